"""MXNet's test_utils comparisons and tolerances (``mx.test_utils.assert_almost_equal``,
``almost_equal``, ``same``, the per-dtype default tolerances, ...), re-exported by
``symnorm.test_utils``."""
from __future__ import annotations

import numbers

import numpy as np



def default_context():
    """The context tests run in (MXNet: ``current_context()``; for symnorm the CPU)."""
    from symnorm.context import current_context
    return current_context()


def default_dtype():
    """The dtype of ``random_arrays``/``rand_ndarray``: float32."""
    return np.float32


def default_numeric_eps() -> dict:
    """MXNet's finite-difference step per float dtype (powers of two: exact as a delta)."""
    return {np.dtype(np.float16): 1.0 / 2 ** 6, np.dtype(np.float32): 1.0 / 2 ** 9,
            np.dtype(np.float64): 1.0 / 2 ** 14}


def default_rtols() -> dict:
    """MXNet's default relative tolerance per dtype (0 for integers and bool)."""
    out = {np.dtype(t): 0 for t in (np.bool_, np.int8, np.uint8, np.int32, np.uint32,
                                    np.int64, np.uint64)}
    out.update({np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-5})
    return out


def default_atols() -> dict:
    """MXNet's default absolute tolerance per dtype (0 for integers and bool)."""
    out = {k: 0 for k in default_rtols()}
    out.update({np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-20})
    return out


def get_tolerance(dat, tol, default_tol):
    """``tol`` if it is a number, else its (or ``default_tol``'s) entry for ``dat``'s dtype."""
    if isinstance(tol, numbers.Number):
        return tol
    dtype = np.dtype(np.asarray(dat).dtype)
    tol = {} if tol is None else tol
    if dtype not in tol and dtype not in default_tol:
        raise TypeError("no default tolerance for dtype %s: pass rtol/atol" % dtype)
    return tol.get(dtype, default_tol.get(dtype))


def get_tols(x, y, rtol, atol):
    """(rtol, atol) for comparing ``x`` and ``y``: the larger default of their dtypes unless given."""
    x, y = np.asarray(x), np.asarray(y)
    return (max(get_tolerance(x, rtol, default_rtols()), get_tolerance(y, rtol, default_rtols())),
            max(get_tolerance(x, atol, default_atols()), get_tolerance(y, atol, default_atols())))


def get_rtol(rtol=None, dtype=np.dtype(np.float64)):
    """``rtol``, or the default for ``dtype`` (float64's unless given)."""
    return default_rtols()[np.dtype(dtype)] if rtol is None else rtol


def get_atol(atol=None, dtype=np.dtype(np.float64)):
    """``atol``, or the default for ``dtype`` (float64's unless given)."""
    return default_atols()[np.dtype(dtype)] if atol is None else atol


def _check_shapes(a, b):
    if np.shape(a) != np.shape(b):
        raise AssertionError("shape mismatch: %s vs %s" % (np.shape(a), np.shape(b)))


def almost_equal(a, b, rtol=None, atol=None, equal_nan=False, use_broadcast=True):
    """``np.allclose`` with MXNet's float64 defaults (rtol 1e-5, atol 1e-20) when not given."""
    if not use_broadcast:
        _check_shapes(a, b)
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=get_rtol(rtol), atol=get_atol(atol),
                            equal_nan=equal_nan))


def same(a, b):
    """Whether two arrays have the same shape and elements."""
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def assert_almost_equal(a, b, rtol=None, atol=None, names=("a", "b"), equal_nan=False,
                        use_broadcast=True, mismatches=(10, 10)):
    """Raise AssertionError unless ``a`` and ``b`` are close; tolerances default per dtype
    (the larger of the two dtypes': float32 rtol 1e-4, atol 1e-3).  The message gives the
    worst violation's index and values, named by ``names``."""
    if not use_broadcast:
        _check_shapes(a, b)
    rtol, atol = get_tols(a, b, rtol, atol)
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == np.bool_ and b.dtype == np.bool_:
        np.testing.assert_equal(a, b)
        return
    if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan):
        return
    a64, b64 = np.broadcast_arrays(a.astype(np.float64), b.astype(np.float64))
    bad = ~np.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = np.where(a64 == b64, 0, np.abs(a64 - b64)) / (atol + rtol * np.abs(b64) + 1e-20)
    excess = np.where(bad & np.isnan(excess), np.inf, excess)
    i = tuple(int(k) for k in np.unravel_index(int(np.argmax(excess)), excess.shape))
    raise AssertionError(
        "Error %f exceeds tolerance rtol=%e, atol=%e (mismatch %f%%).\n"
        "Location of maximum error: %s, %s=%.8f, %s=%.8f"
        % (float(excess[i]), rtol, atol, 100.0 * bad.sum() / max(bad.size, 1), i,
           names[0], a64[i], names[1], b64[i]))


def assert_almost_equal_ignore_nan(a, b, rtol=None, atol=None, names=("a", "b")):
    """``assert_almost_equal`` with positions that are NaN in either array left out."""
    a, b = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)
    a, b = np.broadcast_arrays(a, b)
    nan = np.isnan(a) | np.isnan(b)
    assert_almost_equal(np.where(nan, 0, a), np.where(nan, 0, b), rtol, atol, names)


def assert_allclose(a, b, rtol=1e-07, atol=0, equal_nan=True):
    """numpy's ``assert_allclose`` on arrays or NDArrays (MXNet's default: NaN == NaN)."""
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol,
                               equal_nan=equal_nan)


def assert_exception(f, exception_type, *args, **kwargs):
    """Assert that ``f(*args, **kwargs)`` raises ``exception_type``."""
    try:
        f(*args, **kwargs)
    except exception_type:
        return
    raise AssertionError("%s did not raise %s" % (getattr(f, "__name__", f),
                                                 getattr(exception_type, "__name__", exception_type)))


def random_sample(population, k):
    """``k`` elements of the list ``population`` in random order (numpy's global generator)."""
    if not 0 <= k <= len(population):
        raise ValueError("random_sample: k=%r must be in [0, %d]" % (k, len(population)))
    pool = list(population)
    np.random.shuffle(pool)
    return pool[:k]


def np_reduce(dat, axis, keepdims, numpy_reduce_func):
    """``numpy_reduce_func`` over ``axis`` (int, sequence or None = all), one axis at a time,
    keeping reduced axes as size 1 when ``keepdims``."""
    axes = [axis] if isinstance(axis, numbers.Integral) else \
        list(range(np.ndim(dat))) if axis is None else list(axis)
    out = np.asarray(dat)
    for i in sorted(axes, reverse=True):
        out = numpy_reduce_func(out, axis=i)
    if keepdims:
        shape = list(np.shape(dat))
        for i in axes:
            shape[i] = 1
        out = np.reshape(out, shape)
    return out
