"""BatchNorm, LayerNorm, InstanceNorm and GroupNorm with MXNet 1.9.1's semantics (SPEC §1-2).

Numerics: statistics are computed in the data's dtype (float16 in float32), as one-pass
sums; when a channel's mean dwarfs its spread (where E[x²]-E[x]² would cancel to noise in
float32) BatchNorm sums over ``x - K`` instead, K the channel's first value, so a channel
with mean 1e4 and spread 1e-2 keeps its digits, and backward works on that shifted data.
Reductions go through BLAS (``_np.channel_sum``/``channel_dot``).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from ..dims import norm_axis
from ..errors import ShapeError
from ..params import param, positive, in_range
from ..registry import Op, Result, register
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
    one-pass float32 sums (z = x, o = mean) when every channel is well conditioned, else
    the exact shifted path (``_moments``: z = x - K, o its small mean)."""
    pre, c, post = x3.shape
    m = pre * post
    mean = channel_sum(x3) / m
    var = channel_dot(x3, x3) / m - mean * mean
    np.maximum(var, 0, out=var)
    if K.well_conditioned(mean, var):
        return mean, var, x3, mean
    return _moments(x3)


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
    sdy = channel_sum(dy3)
    sdyxc = channel_dot(dy3, z3) - offset * sdy        # Σ dy·(x - mean)
    dy2, per = K.plane(dy3)
    dx = _dx_buffer(out, dt, dy2.shape)
    if not batch:
        np.multiply(dy2, per((w * inv).astype(dt)), out=dx)
        return dx, sdyxc * inv, sdy
    # dx = w·inv·(dy - mean(dy) - x̂·mean(dy·x̂)) = dy·k1 + (z - o)·k2 + k3
    gsdy, gsdyxc, m = (sdy, sdyxc, pre * post) if reduce is None else reduce(sdy, sdyxc)
    k1 = w * inv
    k2 = -k1 * inv * inv * gsdyxc / m
    k3 = -k1 * gsdy / m - k2 * offset
    z2, _ = K.plane(z3)
    K.axpby_plus(dy2, per(k1.astype(dt)), z2, per(k2.astype(dt)), per(k3.astype(dt)), dx)
    return dx, sdyxc * inv, sdy


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
        return {"gamma": 1.0} if self.fix_gamma else {}

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
        w = np.ones_like(gamma) if self.fix_gamma else gamma
        if not (train and not self.use_global_stats):
            inv = (1.0 / np.sqrt(moving_var + self.eps)).astype(dt)
            scale = inv * w
            x2, per = K.plane(x3)
            buf = out.reshape(x2.shape) if out is not None and out.dtype == dt else \
                np.empty(x2.shape, dt)
            y2 = K.affine(x2, per(scale), per((beta - moving_mean * scale).astype(dt)), buf)
            outs = (y2.reshape(data.shape).astype(data.dtype, copy=False), moving_mean.copy(), inv)
            return Result(outs, None, (x3, moving_mean.astype(dt), inv, w, False))
        m = pre * post
        if m == 1:
            raise ShapeError("training needs more than 1 value per channel, got input shape "
                             "%s (axis=%d); use a larger batch, use_global_stats=True, or "
                             "LayerNorm/GroupNorm" % (data.shape, self.axis))
        # one-pass float32 statistics; the exact shifted path when a channel's mean dwarfs
        # its spread (there E[x²] - E[x]² would cancel to noise).  Either way backward keeps
        # data z and a per-channel offset o with x - mean = z - o (``batch_moments``).
        mean, var, z3, offset = batch_moments(x3)
        inv = 1.0 / np.sqrt(var + dt.type(self.eps))
        y2 = normalize(z3, offset, inv, w, beta)
        mom = self.momentum
        aux = (moving_mean * mom + mean * (1 - mom), moving_var * mom + var * (1 - mom))
        outs = (y2.reshape(data.shape).astype(data.dtype, copy=False), mean, inv)
        return Result(outs, aux, (z3, offset, inv, w, True))

    def backward(self, saved, dy, *, out=None):
        dy3 = channel_view(dy, self.axis % dy.ndim).astype(saved[0].dtype, copy=False)
        dx, dgamma, dbeta = normalize_backward(saved, dy3, out)
        return (dx.reshape(dy.shape).astype(dy.dtype, copy=False),
                None if self.fix_gamma else dgamma, dbeta)

    def label(self, node_name):
        return node_name

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

    def forward(self, data, gamma, beta, *, train):
        ax = self.axis % data.ndim
        x3 = channel_view(data, ax)                    # (pre, C, post): normalize over C
        x = np.moveaxis(x3, 1, 2)                      # (pre, post, C)
        mean = x.mean(axis=-1, keepdims=True)
        xc = x - mean
        var = np.einsum("ijk,ijk->ij", xc, xc)[..., None] / x.shape[-1]
        std = np.sqrt(var + data.dtype.type(self.eps))
        xhat = xc / std
        y = xhat * gamma + beta
        stat_shape = tuple(1 if i == ax else d for i, d in enumerate(data.shape))
        y = np.moveaxis(y, 2, 1).reshape(data.shape)
        return Result((y, mean.reshape(stat_shape), std.reshape(stat_shape)),
                      saved=(xhat, std, gamma, data.shape))

    def backward(self, saved, dy):
        xhat, std, gamma, shape = saved
        ax = self.axis % len(shape)
        d = np.moveaxis(channel_view(dy, ax), 1, 2)    # (pre, post, C)
        dxhat = d * gamma
        n = xhat.shape[-1]
        dx = (dxhat - dxhat.mean(axis=-1, keepdims=True)
              - xhat * np.einsum("ijk,ijk->ij", dxhat, xhat)[..., None] / n) / std
        dgamma = np.einsum("ijk,ijk->k", d, xhat)
        dbeta = d.sum(axis=(0, 1))
        return np.moveaxis(dx, 2, 1).reshape(shape), dgamma, dbeta

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3, 5)}
        yield {"axis": 1, "output_mean_var": True}, {"data": (3, 4, 2)}


def _group_view(x, groups):
    """(N, G, rest) view of (N, C, ...) with C split into G groups."""
    return x.reshape(x.shape[0], groups, -1)


@register
class InstanceNorm(Op):
    """Per-sample, per-channel normalization over the spatial axes (biased variance):
    y = (x - mean[n,c]) / sqrt(var[n,c] + eps) * gamma[c] + beta[c].  No aux state:
    training and inference give the same result."""
    inputs = ("data", "gamma", "beta")
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

    def forward(self, data, gamma, beta, *, train):
        n, c = data.shape[:2]
        x = data.reshape(n, c, -1)
        mean = x.mean(axis=-1, keepdims=True)
        xc = x - mean
        var = np.einsum("ijk,ijk->ij", xc, xc)[..., None] / x.shape[-1]
        inv = 1.0 / np.sqrt(var + data.dtype.type(self.eps))
        xhat = xc * inv
        y = (xhat * gamma[None, :, None] + beta[None, :, None]).reshape(data.shape)
        return Result((y, mean[..., 0], var[..., 0]), saved=(xhat, inv, gamma, data.shape))

    def backward(self, saved, dy):
        xhat, inv, gamma, shape = saved
        n, c = shape[:2]
        d = dy.reshape(n, c, -1)
        dxhat = d * gamma[None, :, None]
        dx = inv * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                    - xhat * np.einsum("ijk,ijk->ij", dxhat, xhat)[..., None] / xhat.shape[-1])
        return dx.reshape(shape), np.einsum("ijk,ijk->j", d, xhat), d.sum(axis=(0, 2))

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

    def forward(self, data, gamma, beta, *, train):
        x = _group_view(data, self.num_groups)
        mean = x.mean(axis=-1, keepdims=True)
        xc = x - mean
        var = np.einsum("ijk,ijk->ij", xc, xc)[..., None] / x.shape[-1]
        std = np.sqrt(var + data.dtype.type(self.eps))
        xhat = xc / std
        y = (xhat * gamma[None, :, None] + beta[None, :, None]).reshape(data.shape)
        return Result((y, mean[..., 0], std[..., 0]), saved=(xhat, std, gamma, data.shape))

    def backward(self, saved, dy):
        xhat, std, gamma, shape = saved
        d = _group_view(dy, self.num_groups)
        dxhat = d * gamma[None, :, None]
        dx = (dxhat - dxhat.mean(axis=-1, keepdims=True)
              - xhat * np.einsum("ijk,ijk->ij", dxhat, xhat)[..., None] / xhat.shape[-1]) / std
        return dx.reshape(shape), np.einsum("ijk,ijk->j", d, xhat), d.sum(axis=(0, 2))

    @classmethod
    def examples(cls):
        yield {"num_groups": 2}, {"data": (2, 4, 3, 3)}
        yield {"num_groups": 3, "output_mean_var": True}, {"data": (2, 6, 5)}
