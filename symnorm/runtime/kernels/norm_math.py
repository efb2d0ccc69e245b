"""The normalization layers' fast numerics (docs/facts.md §1.1-1.2, §3).

Statistics are computed in the data's dtype (float16 in float32), as one-pass sums; when a
channel's mean dwarfs its spread (where E[x²]-E[x]² would cancel to noise in float32) the
sums run over ``x - K`` instead, K the channel's first value, so a channel with mean 1e4
and spread 1e-2 keeps its digits, and backward works on that shifted data.  When those
sums overflow (float32 values beyond ~1e18: nanosecond timestamps, where Σx² passes
float32's 3.4e38) the statistics, normalization and backward run in float64 on a float64
copy of the data; the outputs are cast back.  Detection reads only the C-sized statistics
(a non-finite variance), so ordinary inputs pay O(C), never O(N·C).  Backward's
per-channel constants are float64 too: w·inv³ is below float32's normal range (1e-38) for
a spread of 1e13 or more.  Reductions go through BLAS (``blas.channel_sum``/``channel_dot``).
"""
from __future__ import annotations

import math

import numpy as np

from ...core.errors import OpError
from ...ops._util import compute_dtype
from . import bn_passes as K
from .blas import channel_dot, channel_sum


def shifted(x3: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``x - K`` per channel of a (pre, C, post) array, as a new (pre, C, post) array."""
    x2, per = K.plane(x3)
    return np.subtract(x2, per(shift)).reshape(x3.shape)


def _moments(x3: np.ndarray):
    """Per-channel (mean, biased var, shifted data x - K, K-relative mean) of (pre, C, post),
    K being each channel's first value: x - K is exact in float32 for values near K
    (Sterbenz), so the sums over it keep their digits however large the mean is."""
    pre, c, post = x3.shape
    m = pre * post
    shift = x3[0, :, 0].copy()
    xc = shifted(x3, shift)
    mu = channel_sum(xc) / m                # mean of the shifted data, small
    var = channel_dot(xc, xc) / m - mu * mu
    np.maximum(var, 0, out=var)
    return shift + mu, var, xc, mu


def batch_moments(x3: np.ndarray):
    """Per-channel (mean, biased var, z, o) of a (pre, C, post) array, with z - o = x - mean:
    one-pass float32 sums (z = x, o = a copy of mean) when every channel is well
    conditioned, else the exact shifted path (``_moments``: z = x - K, o its small mean).
    o is never the mean array itself: ops output the mean, and an op downstream may
    overwrite an output in place while backward still needs o."""
    pre, c, post = x3.shape
    m = pre * post
    try:
        mean = channel_sum(x3) / m
        var = channel_dot(x3, x3) / m - mean * mean
        np.maximum(var, 0, out=var)
        if K.well_conditioned(mean, var):
            return mean, var, x3, mean.copy()
    except FloatingPointError:
        pass        # np.errstate(over='raise') and sums past float32: the careful path below
    # the rare path: an overflow here is detected from the statistics, never raised
    # (the one-pass sums above cost no errstate on the common path)
    with np.errstate(over="ignore", invalid="ignore"):
        stats = _moments(x3)
        if K.all_finite(stats[0], stats[1]):
            return stats
        return _wide_moments(x3, stats)


def _wide_moments(x3: np.ndarray, stats):
    """``_moments`` in float64 for finite data whose float32 sums overflowed (z and o then
    float64: the callers normalize in float64 and cast their outputs back).  Data that is
    not finite keeps ``stats`` (NaN in, NaN out; the executor then leaves the moving
    statistics alone).  The O(N·C) finiteness test runs only here, after the C-sized
    statistics came out non-finite."""
    if not np.isfinite(x3).all():
        return stats
    if x3.dtype.itemsize >= 8:
        big = float(np.max(np.abs(x3)))
        raise OpError("the data's statistics overflow %s (largest |value| %.3g; its square "
                      "times the %d values per channel passes the dtype's range): scale the "
                      "input down" % (x3.dtype, big, x3.shape[0] * x3.shape[2]))
    return _moments(x3.astype(np.float64))


def normalize(z3, offset, inv, w, beta):
    """y = (z - o)·inv·w + beta per channel, as a new array shaped like ``K.plane(z3)``."""
    dt = z3.dtype
    scale = (inv * w).astype(dt)
    z2, per = K.plane(z3)
    return K.affine(z2, per(scale), per((beta - offset * scale).astype(dt)),
                    np.empty(z2.shape, dt))


def normalize_backward(saved, dy3, out=None, reduce=None):
    """Gradients of ``normalize`` from its saved (z, o, inv, w, batch): (dx on the plane,
    Σdy·x̂, Σdy) per channel.  ``batch``: the statistics came from this data (their
    gradient flows); else they were constants.  ``reduce(Σdy, Σdy·(x-mean))`` -> (the same
    sums, count) over a larger batch (SyncBatchNorm's ranks) sets dx's statistics."""
    # z - o = x - mean: o folds into per-channel constants, so on the exact path no digits
    # are lost when the mean dwarfs the spread
    z3, offset, inv, w, batch = saved
    pre, c, post = z3.shape
    dt = z3.dtype
    sdy, sdyxc = _grad_sums(dy3, z3, offset)
    dy2, per = K.plane(dy3)
    dx = dx_buffer(out, dt, dy2.shape)
    pdt = w.dtype
    if not batch:
        np.multiply(dy2, per((w * inv).astype(dt)), out=dx)
        return dx, (sdyxc * inv).astype(pdt, copy=False), sdy.astype(pdt, copy=False)
    # dx = w·inv·(dy - mean(dy) - x̂·mean(dy·x̂)) = dy·k1 + (z - o)·k2 + k3, the C-sized
    # constants in float64 when inv³ would leave float32's normal range (a spread of 1e6 or
    # more; float32 keeps 20 decades of headroom below that), else in the data's dtype
    if inv.dtype.itemsize < 8 and float(np.minimum.reduce(inv, axis=None)) < 1e-6:
        inv64 = inv.astype(np.float64)
    else:
        inv64 = inv
    gsdy, gsdyxc, m = (sdy, sdyxc, pre * post) if reduce is None else reduce(sdy, sdyxc)
    k1 = w * inv64
    k2 = -k1 * inv64 * inv64 * gsdyxc / m
    k3 = -k1 * gsdy / m - k2 * offset
    if not math.isfinite(k2.dot(k3)):        # any NaN/inf: NaN/inf
        # Σdy·x overflowed the data's dtype (huge gradients times large values): the sums
        # again in float64.  Decided on the (global) sums alone, so every rank of a
        # SyncBatchNorm takes this branch alike and calls ``reduce`` the same number of
        # times (a rank whose data is float64 already just recomputes)
        sdy, sdyxc = _grad_sums(dy3.astype(np.float64), z3.astype(np.float64), offset)
        gsdy, gsdyxc, m = (sdy, sdyxc, pre * post) if reduce is None else reduce(sdy, sdyxc)
        k2 = -k1 * inv64 * inv64 * gsdyxc / m
        k3 = -k1 * gsdy / m - k2 * offset
    z2, _ = K.plane(z3)
    K.axpby_plus(dy2, per(k1.astype(dt, copy=False)), z2, per(k2.astype(dt, copy=False)),
                 per(k3.astype(dt, copy=False)), dx)
    return dx, (sdyxc * inv64).astype(pdt, copy=False), sdy.astype(pdt, copy=False)


def _grad_sums(dy3, z3, offset):
    """(Σdy, Σdy·(x - mean)) per channel, with z - o = x - mean."""
    sdy = channel_sum(dy3)
    return sdy, channel_dot(dy3, z3) - offset * sdy


def dx_buffer(out, dtype, shape):
    """The executor's gradient buffer for data when it offers one (see Op.backward_out)."""
    buf = None if out is None else out[0]
    if buf is not None and buf.dtype == dtype and buf.flags.c_contiguous:
        return buf.reshape(shape)
    return np.empty(shape, dtype)


def rows_last(x3: np.ndarray) -> np.ndarray:
    """(pre, C, post) as contiguous (pre·post, C) rows (a copy only when post > 1)."""
    pre, c, post = x3.shape
    if post == 1:
        return x3.reshape(pre, c)
    return np.ascontiguousarray(np.moveaxis(x3, 1, 2)).reshape(pre * post, c)


def from_rows_last(rows: np.ndarray, shape3: tuple, shape: tuple) -> np.ndarray:
    """Inverse of ``_rows_last``, reshaped to ``shape``."""
    pre, c, post = shape3
    if post == 1:
        return rows.reshape(shape)
    return np.ascontiguousarray(np.moveaxis(rows.reshape(pre, post, c), 2, 1)).reshape(shape)


def normalize_rows(data, rows, gamma, beta, eps):
    """InstanceNorm and GroupNorm: the data as ``rows`` contiguous rows (a sample's channel,
    or its group of channels), each normalized over itself, then scaled by its channel's or
    group's gamma and beta.  The rows are BatchNorm's channels here, so its statistics
    (one-pass sums, exact shifted path), normalization and backward kernels apply as they
    are.  Returns (y, mean, var, saved)."""
    dt = compute_dtype(data.dtype)
    x3 = data.reshape(1, rows, -1).astype(dt, copy=False)
    mean, var, z3, offset = batch_moments(x3)         # float64 if float32 sums overflowed
    inv = 1.0 / np.sqrt(var + var.dtype.type(eps))
    reps = rows // len(gamma)
    w = np.tile(gamma.astype(dt, copy=False), reps)             # per row
    y = normalize(z3, offset, inv, w, np.tile(beta.astype(dt, copy=False), reps))
    return (y.reshape(data.shape).astype(data.dtype, copy=False), mean, var,
            ((z3, offset, inv, w, True), (gamma.dtype, len(gamma)), data.shape))


def normalize_rows_backward(saved, dy, out):
    inner, (pdtype, groups), shape = saved
    z3 = inner[0]
    dx, dgamma, dbeta = normalize_backward(inner, dy.reshape(z3.shape).astype(z3.dtype, copy=False),
                                           out)
    # per-row sums of dy·x̂ and dy, added over the samples for each channel or group
    return (dx.reshape(shape).astype(dy.dtype, copy=False),
            dgamma.reshape(-1, groups).sum(axis=0).astype(pdtype, copy=False),
            dbeta.reshape(-1, groups).sum(axis=0).astype(pdtype, copy=False))


