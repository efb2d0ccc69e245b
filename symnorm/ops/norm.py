"""BatchNorm, LayerNorm, InstanceNorm and GroupNorm with MXNet 1.9.1's semantics
(docs/facts.md §1.1-1.2).

Numerics: statistics are computed in the data's dtype (float16 in float32), as one-pass
sums; when a channel's mean dwarfs its spread (where E[x²]-E[x]² would cancel to noise in
float32) BatchNorm sums over ``x - K`` instead, K the channel's first value, so a channel
with mean 1e4 and spread 1e-2 keeps its digits, and backward works on that shifted data.
When those sums overflow (float32 values beyond ~1e18: nanosecond timestamps, where Σx²
passes float32's 3.4e38) the statistics, normalization and backward run in float64 on a
float64 copy of the data; the outputs are cast back.  Detection reads only the C-sized
statistics (a non-finite variance), so ordinary inputs pay O(C), never O(N·C).  Backward's
per-channel constants are float64 too: w·inv³ is below float32's normal range (1e-38) for
a spread of 1e13 or more.  Reductions go through BLAS (``_np.channel_sum``/``channel_dot``).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from ..core.dims import norm_axis, same_shape_backward
from ..core.errors import OpError, ShapeError
from ..core.params import param, positive, in_range
from ..core.registry import Op, Result, register
from . import _bnkernel as K
from ._np import channel_dot, channel_sum, channel_view, compute_dtype


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
    dx = _dx_buffer(out, dt, dy2.shape)
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
    if not math.isfinite(float(np.dot(k2, k3))):        # any NaN/inf: NaN/inf
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


def _dx_buffer(out, dtype, shape):
    """The executor's gradient buffer for data when it offers one (see Op.backward_out)."""
    buf = None if out is None else out[0]
    if buf is not None and buf.dtype == dtype and buf.flags.c_contiguous:
        return buf.reshape(shape)
    return np.empty(shape, dtype)


@register
class BatchNorm(Op):
    """Batch normalization with moving statistics.

    Training (``is_train`` and not ``use_global_stats``): per-channel batch mean and
    *biased* variance over every axis but ``axis``;
    ``y = (x - mean) / sqrt(var + eps) * gamma + beta``, and the proposed update
    ``moving = moving * momentum + batch * (1 - momentum)`` (momentum weights the *old*
    value; PyTorch's 0.1 is MXNet's 0.9).  Otherwise the moving statistics normalize and
    nothing is updated.  ``fix_gamma=True`` (the default) uses gamma = 1, gives gamma no
    gradient and writes 1 into the gamma array at every forward, as MXNet does.

    Outputs ``output, mean, var``; ``mean``/``var`` are visible only with
    ``output_mean_var`` and their head gradients are ignored.  As in MXNet, ``var`` holds
    the *inverse standard deviation* 1/sqrt(var + eps), not the variance.

    A training batch that gives a channel a single value raises (PyTorch's "more than 1
    value per channel"); MXNet silently outputs beta there.
    """
    summary_params = True
    inputs = ("data", "gamma", "beta")
    aux = ("moving_mean", "moving_var")
    outputs = ("output", "mean", "var")
    backward_out = True
    no_grad_outputs = ("mean", "var")
    aux_init = {"moving_mean": "zero", "moving_var": "one"}
    color = "#bebada"
    fresh_outputs = True
    inplace = True

    eps: float = param(1e-3, check=positive, doc="added to the variance (must be > 0)")
    momentum: float = param(0.9, check=in_range(0.0, 1.0), doc="weight of the old moving value")
    fix_gamma: bool = param(True, doc="treat gamma as 1 and do not learn it")
    use_global_stats: bool = param(False, doc="normalize with the moving statistics, also in training")
    output_mean_var: bool = param(False, doc="also output mean and 1/sqrt(var+eps)")
    axis: int = param(1, doc="the channel axis (negative counts from the end)")
    cudnn_off: bool = param(False, doc="accepted for MXNet compatibility; ignored")
    min_calib_range: Optional[float] = param(None, doc="quantization only; ignored")
    max_calib_range: Optional[float] = param(None, doc="quantization only; ignored")

    def num_visible_outputs(self):
        return 3 if self.output_mean_var else 1

    def pinned_inputs(self):
        # the one statement of fix_gamma's effect: forward, backward, the executor (which
        # writes 1 into gamma), Module (grad_req='null') and fold_batchnorm all read it
        return {"gamma": 1.0} if self.fix_gamma else {}

    def gamma_used(self, gamma):
        """The scale the op applies: gamma, or its pinned constant (1 under fix_gamma)."""
        pinned = self.pinned_inputs()
        return np.full_like(gamma, pinned["gamma"]) if "gamma" in pinned else gamma

    def gamma_grad(self, dgamma):
        """gamma's gradient: None (none at all) when gamma is pinned."""
        return None if "gamma" in self.pinned_inputs() else dgamma

    def keeps_output(self):
        return False                    # saves the input and per-channel vectors

    def batch_last(self, ndim):
        ax = self.axis % ndim           # valid: shape inference has checked it
        return dataclasses.replace(self, axis=ax - 1 if ax else ndim - 1)

    def infer_shape(self, data, gamma, beta, moving_mean, moving_var):
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data), "Channel axis")
        c = (data[ax],)
        return (data, c, c, c, c), (data, c, c)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        # data has the output's shape; its channel axis also comes from gamma, beta or the
        # moving statistics (MXNet fills only the parameters from data)
        data = outs[0] if outs[0] is not None else ins[0]
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data), "Channel axis")
        c = None
        for s in ins[1:]:
            if s is not None and len(s) == 1 and s[0] is not None:
                c = s[0]
        if c is not None:
            data = tuple(c if i == ax and d is None else d for i, d in enumerate(data))
        return (tuple(data),) + (None,) * (len(ins) - 1)

    def infer_type(self, data, *rest):
        if data is None:
            return None
        p = compute_dtype(data)        # float16 data keeps float32 parameters and statistics
        return (data, p, p, p, p), (data, p, p)

    def forward(self, data, gamma, beta, moving_mean, moving_var, *, train, out=None):
        ax = self.axis % data.ndim
        dt = compute_dtype(data.dtype)
        x3 = channel_view(data, ax).astype(dt, copy=False)
        pre, c, post = x3.shape
        w = self.gamma_used(gamma)
        if not (train and not self.use_global_stats):
            inv = (1.0 / np.sqrt(moving_var + self.eps)).astype(dt)
            scale = inv * w
            x2, per = K.plane(x3)
            buf = out.reshape(x2.shape) if out is not None and out.dtype == dt else \
                np.empty(x2.shape, dt)
            y2 = K.affine(x2, per(scale), per((beta - moving_mean * scale).astype(dt)), buf)
            # outputs never alias the saved state (a consumer may overwrite them in place)
            outs = (y2.reshape(data.shape).astype(data.dtype, copy=False), moving_mean.copy(),
                    inv.copy())
            return Result(outs, None, (x3, moving_mean.astype(dt), inv, w, False))
        m = pre * post
        if m == 1:
            raise ShapeError("training needs more than 1 value per channel, got input shape "
                             "%s (axis=%d); use a larger batch, use_global_stats=True, or "
                             "LayerNorm/GroupNorm" % (data.shape, self.axis))
        # one-pass float32 statistics; the exact shifted path when a channel's mean dwarfs
        # its spread (there E[x²] - E[x]² would cancel to noise).  Either way backward keeps
        # data z and a per-channel offset o with x - mean = z - o (``batch_moments``).
        mean, var, z3, offset = batch_moments(x3)     # float64 if float32 sums overflowed
        inv = 1.0 / np.sqrt(var + var.dtype.type(self.eps))
        y2 = normalize(z3, offset, inv, w, beta)
        mom = self.momentum
        # in the aux dtype: a variance beyond float32 shows as inf there (and is not committed)
        aux = (moving_mean * mom + mean * (1 - mom), moving_var * mom + var * (1 - mom))
        if aux[1].dtype != moving_var.dtype:        # the float64 path (huge inputs)
            aux = tuple(a.astype(m.dtype) for a, m in zip(aux, (moving_mean, moving_var)))
        outs = (y2.reshape(data.shape).astype(data.dtype, copy=False),
                mean.astype(dt, copy=False), inv.astype(dt))
        return Result(outs, aux, (z3, offset, inv, w, True))

    def backward(self, saved, dy, *, out=None):
        dy3 = channel_view(dy, self.axis % dy.ndim).astype(saved[0].dtype, copy=False)
        dx, dgamma, dbeta = normalize_backward(saved, dy3, out)
        return (dx.reshape(dy.shape).astype(dy.dtype, copy=False),
                self.gamma_grad(dgamma), dbeta)

    @classmethod
    def examples(cls):
        yield {"fix_gamma": False}, {"data": (4, 3, 2, 5)}
        yield {"fix_gamma": False, "axis": -1, "eps": 1e-5}, {"data": (3, 5, 4)}
        yield {}, {"data": (6, 4)}
        yield {"fix_gamma": False, "use_global_stats": True}, {"data": (3, 2, 4)}
        yield {"fix_gamma": False, "output_mean_var": True, "axis": 0}, {"data": (3, 4, 2)}


@register
class LayerNorm(Op):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta with statistics over ``axis`` only
    (biased variance); gamma and beta have shape (data.shape[axis],).  Outputs ``output,
    mean, std`` with std = sqrt(var + eps), mean/std keeping ``axis`` as size 1; their head
    gradients are ignored."""
    inputs = ("data", "gamma", "beta")
    backward_out = True                # dx straight into the gradient buffer
    fresh_outputs = True
    outputs = ("output", "mean", "std")
    no_grad_outputs = ("mean", "std")
    axis: int = param(-1, doc="the normalized axis")
    eps: float = param(1e-5, check=positive)
    output_mean_var: bool = param(False)

    def num_visible_outputs(self):
        return 3 if self.output_mean_var else 1

    def infer_shape(self, data, gamma, beta):
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data))
        c = (data[ax],)
        stat = tuple(1 if i == ax else d for i, d in enumerate(data))
        return (data, c, c), (data, stat, stat)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)

    def forward(self, data, gamma, beta, *, train):
        ax = self.axis % data.ndim
        dt = compute_dtype(data.dtype)
        x3 = channel_view(data, ax).astype(dt, copy=False)     # normalize over C
        rows = _rows_last(x3)                                   # (pre·post, C)
        # per-row statistics: the rows are BatchNorm's channels (one-pass sums, the exact
        # shifted path when a row's mean dwarfs its spread)
        mean, var, z3, offset = batch_moments(rows[None])     # float64 if sums overflowed
        std = np.sqrt(var + var.dtype.type(self.eps))
        inv = 1.0 / std
        xhat = normalize(z3, offset, inv, np.ones_like(inv), np.zeros_like(inv))
        y = K.affine(xhat, gamma.astype(xhat.dtype, copy=False), beta.astype(xhat.dtype, copy=False),
                     np.empty(xhat.shape, xhat.dtype))
        stat_shape = tuple(1 if i == ax else d for i, d in enumerate(data.shape))
        return Result((_from_rows_last(y, x3.shape, data.shape).astype(data.dtype, copy=False),
                       mean.reshape(stat_shape).astype(data.dtype, copy=False),
                       std.reshape(stat_shape).astype(data.dtype, copy=False)),
                      saved=(xhat, inv, gamma, x3.shape))

    def backward(self, saved, dy, *, out=None):
        # dx = inv·(dx̂ - mean_C(dx̂) - x̂·mean_C(dx̂·x̂)) with dx̂ = dy·gamma, per row
        xhat, inv, gamma, shape3 = saved
        dt = xhat.dtype
        d = _rows_last(channel_view(dy, self.axis % dy.ndim).astype(dt, copy=False))
        n = xhat.shape[1]
        # dx̂ becomes dx in place, in the executor's gradient buffer when the rows are the
        # data's own layout
        buf = _dx_buffer(out, dt, d.shape) if shape3[2] == 1 else np.empty(d.shape, dt)
        dxh = K.scale(d, gamma.astype(dt, copy=False), buf)
        sdxh = channel_sum(dxh[None])
        sdxhx = channel_dot(dxh[None], xhat[None])
        col = (lambda v: v.astype(dt).reshape(-1, 1))
        K.axpby_plus(dxh, col(inv), xhat, col(-inv * sdxhx / n), col(-inv * sdxh / n), dxh)
        dgamma = channel_dot(d[..., None], xhat[..., None])    # column sums over the rows
        dbeta = channel_sum(d[..., None])
        return (_from_rows_last(dxh, shape3, dy.shape).astype(dy.dtype, copy=False),
                dgamma.astype(gamma.dtype, copy=False), dbeta.astype(gamma.dtype, copy=False))

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3, 5)}
        yield {"axis": 1, "output_mean_var": True}, {"data": (3, 4, 2)}


def _rows_last(x3: np.ndarray) -> np.ndarray:
    """(pre, C, post) as contiguous (pre·post, C) rows (a copy only when post > 1)."""
    pre, c, post = x3.shape
    if post == 1:
        return x3.reshape(pre, c)
    return np.ascontiguousarray(np.moveaxis(x3, 1, 2)).reshape(pre * post, c)


def _from_rows_last(rows: np.ndarray, shape3: tuple, shape: tuple) -> np.ndarray:
    """Inverse of ``_rows_last``, reshaped to ``shape``."""
    pre, c, post = shape3
    if post == 1:
        return rows.reshape(shape)
    return np.ascontiguousarray(np.moveaxis(rows.reshape(pre, post, c), 2, 1)).reshape(shape)


def _normalize_rows(data, rows, gamma, beta, eps):
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


def _normalize_rows_backward(saved, dy, out):
    inner, (pdtype, groups), shape = saved
    z3 = inner[0]
    dx, dgamma, dbeta = normalize_backward(inner, dy.reshape(z3.shape).astype(z3.dtype, copy=False),
                                           out)
    # per-row sums of dy·x̂ and dy, added over the samples for each channel or group
    return (dx.reshape(shape).astype(dy.dtype, copy=False),
            dgamma.reshape(-1, groups).sum(axis=0).astype(pdtype, copy=False),
            dbeta.reshape(-1, groups).sum(axis=0).astype(pdtype, copy=False))


@register
class InstanceNorm(Op):
    """Per-sample, per-channel normalization over the spatial axes (biased variance):
    y = (x - mean[n,c]) / sqrt(var[n,c] + eps) * gamma[c] + beta[c].  No aux state:
    training and inference give the same result."""
    inputs = ("data", "gamma", "beta")
    backward_out = True                # dx straight into the gradient buffer
    fresh_outputs = True
    outputs = ("output", "mean", "var")
    no_grad_outputs = ("mean", "var")
    eps: float = param(1e-3, check=positive)

    def num_visible_outputs(self):
        return 1

    def infer_shape(self, data, gamma, beta):
        if data is None:
            return None
        if len(data) < 2:
            raise ShapeError("InstanceNorm needs (N, C, ...) input, got %s" % (data,))
        c = (data[1],)
        stat = (data[0], data[1])
        return (data, c, c), (data, stat, stat)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)

    def forward(self, data, gamma, beta, *, train):
        n, c = data.shape[:2]
        y, mean, var, saved = _normalize_rows(data, n * c, gamma, beta, self.eps)
        with np.errstate(over="ignore"):    # a variance past float32 is inf there, not an error
            var = var.reshape(n, c).astype(data.dtype, copy=False)
        return Result((y, mean.reshape(n, c).astype(data.dtype, copy=False), var), saved=saved)

    def backward(self, saved, dy, *, out=None):
        return _normalize_rows_backward(saved, dy, out)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3, 4, 5)}
        yield {"eps": 0.1}, {"data": (3, 2, 6)}


@register
class GroupNorm(Op):
    """Channels split into ``num_groups`` groups; each sample's group (C/G channels x
    spatial) is normalized (biased variance), then y = x̂ * gamma[g] + beta[g].  As in
    MXNet 1.x, gamma and beta have shape (num_groups,), one scale per *group*.  Outputs
    ``output, mean, std`` (std = sqrt(var + eps), shape (N, num_groups))."""
    inputs = ("data", "gamma", "beta")
    backward_out = True                # dx straight into the gradient buffer
    fresh_outputs = True
    outputs = ("output", "mean", "std")
    no_grad_outputs = ("mean", "std")
    num_groups: int = param(1, check=lambda v: None if v >= 1 else "must be >= 1")
    eps: float = param(1e-5, check=positive)
    output_mean_var: bool = param(False)

    def num_visible_outputs(self):
        return 3 if self.output_mean_var else 1

    def infer_shape(self, data, gamma, beta):
        if data is None:
            return None
        if len(data) < 3:
            raise ShapeError("GroupNorm needs input with at least 3 dims (N, C, spatial...), got %s"
                             % (data,))
        if data[1] is not None and data[1] % self.num_groups:
            raise ShapeError("# of channels (%d) must be divisible by # of groups (%d)"
                             % (data[1], self.num_groups))
        g = (self.num_groups,)
        stat = (data[0], self.num_groups)
        return (data, g, g), (data, stat, stat)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)

    def forward(self, data, gamma, beta, *, train):
        n, g = data.shape[0], self.num_groups
        y, mean, var, saved = _normalize_rows(data, n * g, gamma, beta, self.eps)
        std = np.sqrt(var + var.dtype.type(self.eps))
        return Result((y, mean.reshape(n, g).astype(data.dtype, copy=False),
                       std.reshape(n, g).astype(data.dtype, copy=False)), saved=saved)

    def backward(self, saved, dy, *, out=None):
        return _normalize_rows_backward(saved, dy, out)

    @classmethod
    def examples(cls):
        yield {"num_groups": 2}, {"data": (2, 4, 3, 3)}
        yield {"num_groups": 3, "output_mean_var": True}, {"data": (2, 6, 5)}
