"""Errors of the ONNX bridge: both derive from GraphError (a graph that cannot cross)."""
from __future__ import annotations

from symnorm.errors import GraphError


class OnnxExportError(GraphError):
    """A symnorm graph (or its arguments) cannot be written as ONNX; names the node and op."""


class OnnxImportError(GraphError):
    """An ONNX model cannot be read into symnorm; names the ONNX node, its op type and why."""


def require_onnx():
    """Import and return the ``onnx`` package, or say how to get it."""
    try:
        import onnx
    except ImportError:
        raise ImportError("symnorm's ONNX bridge needs the 'onnx' package: "
                          "pip install 'symnorm[onnx]' (or pip install onnx)") from None
    return onnx
