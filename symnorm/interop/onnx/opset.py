"""Opset policy: which ONNX opsets symnorm writes, and the default.

symnorm writes opset 17 by default (LayerNormalization is native from 17, every runtime
of the last years reads it).  Any opset from 17 up to the newest the installed ``onnx``
package knows may be asked for; converters look at ``ctx.opset`` where ONNX changed an
op's signature (Reduce* take ``axes`` as an input from 18, Split takes ``num_outputs``
from 18, GroupNormalization exists with per-channel scale from 21, Gelu from 20).
"""
from __future__ import annotations

from .errors import OnnxExportError

MIN_OPSET = 17
DEFAULT_OPSET = 17


def max_opset() -> int:
    """The newest default-domain opset the installed onnx package defines."""
    import onnx
    return onnx.defs.onnx_opset_version()


def choose_opset(requested) -> int:
    """Validate the user's ``opset_version`` (None: the default)."""
    if requested is None:
        return DEFAULT_OPSET
    if isinstance(requested, bool) or not isinstance(requested, int):
        raise OnnxExportError("export_model: opset_version must be an int >= %d, got %r"
                              % (MIN_OPSET, requested))
    top = max_opset()
    if not MIN_OPSET <= requested <= top:
        raise OnnxExportError("export_model: opset_version %d is not supported: symnorm writes "
                              "opsets %d..%d (the newest the installed onnx package knows)"
                              % (requested, MIN_OPSET, top))
    return requested
