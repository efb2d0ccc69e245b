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

__all__ = ["MXNetError", "NotImplementedForSymbol", "mx_real_t", "string_types",
           "numeric_types", "integer_types"]
