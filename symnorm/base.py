"""``mx.base``: the names MXNet scripts import from it.

``MXNetError`` is symnorm's base error, so ``except mx.base.MXNetError`` catches every error
symnorm raises on purpose; ``NotImplementedForSymbol`` is what NDArray-only operations on a
Symbol raise (``bool(sym)``); ``mx_real_t`` is MXNet's default dtype.
"""
import numpy as np

from .core.errors import NotImplementedForSymbol, SymnormError

MXNetError = SymnormError
mx_real_t = np.float32
string_types = (str,)
numeric_types = (float, int, np.generic)
integer_types = (int, np.int32, np.int64)



def py_str(x):
    """MXNet's ``py_str``: bytes (a C string) decoded as UTF-8; ``str`` passes through."""
    return x.decode("utf-8") if isinstance(x, (bytes, bytearray)) else str(x)


def _as_list(obj):
    """MXNet's ``_as_list``: a list or tuple as a list, anything else wrapped in one."""
    return list(obj) if isinstance(obj, (list, tuple)) else [obj]


__all__ = ["MXNetError", "NotImplementedForSymbol", "mx_real_t", "string_types",
           "numeric_types", "integer_types", "py_str"]
