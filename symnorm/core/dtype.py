"""MXNet's dtype flags (``__dtype__`` attributes, ``.params`` records) and their numpy types."""
from __future__ import annotations

import numpy as np

from .errors import DataError, DTypeError

MX_FLAG_TO_NP = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32,
                 5: np.int8, 6: np.int64, 7: np.bool_, 8: np.int16, 9: np.uint16,
                 10: np.uint32, 11: np.uint64}
NP_TO_MX_FLAG = {np.dtype(v): k for k, v in MX_FLAG_TO_NP.items()}

REAL_KINDS = "biuf"
"""numpy dtype kinds symnorm computes with: bool, ints, floats.  MXNet has no complex,
object or string arrays; numpy would cast complex to float by dropping the imaginary part."""


def as_dtype(dt, what="dtype") -> np.dtype:
    """numpy dtype from a name, a numpy type, or an MXNet flag string; clear error otherwise
    (also for complex, object, string and other non-numeric dtypes)."""
    try:
        if isinstance(dt, str) and dt.strip().lstrip("-").isdigit():
            return np.dtype(MX_FLAG_TO_NP[int(dt)])
        out = np.dtype(dt)
    except Exception:               # np.dtype("(1.5,)") even raises SyntaxError
        raise DTypeError("%s: cannot interpret %r as a data type" % (what, dt)) from None
    if out.kind not in REAL_KINDS:
        raise DTypeError("%s: %s is not supported (symnorm computes with bool, int and float "
                         "types only)" % (what, out))
    return out


def real_array(value, what) -> np.ndarray:
    """``np.asarray(value)``, refusing complex, object, string and other non-numeric arrays
    (``what`` names the input).  A dtype check, not a scan of the data: it is on the path of
    every forward."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise DataError("%s: cannot make an array of %s (%s)" % (what, type(value).__name__, exc)) from None
    if arr.dtype.kind not in REAL_KINDS:
        raise DTypeError("%s: arrays of dtype %s are not supported%s (symnorm computes with "
                        "bool, int and float arrays only)"
                        % (what, arr.dtype, "; the imaginary part would be dropped"
                           if arr.dtype.kind == "c" else ""))
    return arr


def int_labels(label, what="label") -> np.ndarray:
    """Class labels (or indices) as int64, refusing NaN and infinity: a plain cast makes NaN
    -9223372036854775808, reported (if at all) as a label out of range.  ``what`` names
    them in the message: ``"accuracy: label NaN at index (1,) is not a class index"``."""
    label = np.asarray(label)
    if label.dtype.kind in "fc":
        bad = ~np.isfinite(label)
        if bad.any():
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DataError("%s %s at index %s is not a class index"
                            % (what, "NaN" if np.isnan(label[pos]) else label[pos], pos))
    elif label.dtype.kind not in REAL_KINDS:
        raise DataError("%s: dtype %s holds no class indices" % (what, label.dtype))
    return label.astype(np.int64)


def mx_flag(dt) -> int:
    """MXNet's type flag of a dtype (0 float32, 1 float64, 2 float16, ...)."""
    dt = as_dtype(dt)
    if dt not in NP_TO_MX_FLAG:
        raise DTypeError("dtype %s has no MXNet type flag" % dt)
    return NP_TO_MX_FLAG[dt]
