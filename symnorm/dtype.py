"""MXNet's dtype flags (``__dtype__`` attributes, ``.params`` records) and their numpy types."""
from __future__ import annotations

import numpy as np

from .errors import DTypeError

MX_FLAG_TO_NP = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32,
                 5: np.int8, 6: np.int64, 7: np.bool_, 8: np.int16, 9: np.uint16,
                 10: np.uint32, 11: np.uint64}
NP_TO_MX_FLAG = {np.dtype(v): k for k, v in MX_FLAG_TO_NP.items()}

COMPUTE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16))


def as_dtype(dt, what="dtype") -> np.dtype:
    """numpy dtype from a name, a numpy type, or an MXNet flag string; clear error otherwise."""
    try:
        if isinstance(dt, str) and dt.strip().lstrip("-").isdigit():
            return np.dtype(MX_FLAG_TO_NP[int(dt)])
        return np.dtype(dt)
    except (TypeError, KeyError):
        raise DTypeError("%s: cannot interpret %r as a data type" % (what, dt)) from None


def mx_flag(dt) -> int:
    """MXNet's type flag of a dtype (0 float32, 1 float64, 2 float16, ...)."""
    dt = as_dtype(dt)
    if dt not in NP_TO_MX_FLAG:
        raise DTypeError("dtype %s has no MXNet type flag" % dt)
    return NP_TO_MX_FLAG[dt]
