"""The ONNX bridge: ``export_model`` (symnorm/MXNet -> ONNX) and ``import_model``
(ONNX -> symnorm).  Needs the optional ``onnx`` package (``pip install 'symnorm[onnx]'``),
imported only when one of these functions is called."""
from __future__ import annotations

from .errors import OnnxExportError, OnnxImportError, require_onnx
from .opset import DEFAULT_OPSET, MIN_OPSET


def export_model(sym, params, in_shapes=None, in_types="float32", onnx_file_path="model.onnx",
                 verbose=False, dynamic=False, dynamic_input_shapes=None, opset_version=None):
    require_onnx()
    from .export import export_model as run
    return run(sym, params, in_shapes, in_types, onnx_file_path, verbose, dynamic,
               dynamic_input_shapes, opset_version)


def import_model(model_file):
    """``(sym, arg_params, aux_params)`` from an ONNX model (a path or a ``ModelProto``),
    as MXNet's ``mx.contrib.onnx.import_model``; BatchNormalization becomes BatchNorm with
    its moving statistics as aux states.  See ``symnorm.interop.onnx.importer``."""
    require_onnx()
    from .importer import import_model as run
    return run(model_file)


def exportable_ops() -> list:
    """The symnorm op names export_model can translate."""
    require_onnx()
    from .export import CONVERTERS
    return sorted(CONVERTERS)


from . import export as _export     # pure Python: onnx itself is imported on use

export_model.__doc__ = _export.export_model.__doc__

__all__ = ["export_model", "import_model", "exportable_ops", "OnnxExportError", "OnnxImportError",
           "DEFAULT_OPSET", "MIN_OPSET"]
