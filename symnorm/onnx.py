"""``symnorm.onnx``: MXNet's ``mx.onnx`` spelling of the ONNX bridge
(:mod:`symnorm.interop.onnx`).  Importing it does not import the onnx package."""
from symnorm.interop.onnx import (DEFAULT_OPSET, MIN_OPSET, OnnxExportError, OnnxImportError,  # noqa: F401
                                  export_model, exportable_ops, import_model)

__all__ = ["export_model", "import_model", "exportable_ops", "OnnxExportError", "OnnxImportError",
           "DEFAULT_OPSET", "MIN_OPSET"]
