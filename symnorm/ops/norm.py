"""BatchNorm, LayerNorm, InstanceNorm and GroupNorm with MXNet 1.9.1's semantics
(docs/facts.md §1.1-1.2), as plain reference formulas: statistics over the reduced axes in
the compute dtype (float16 data in float32), two-pass mean and biased variance.  The fast
kernels (one-pass BLAS sums with exact fallbacks for ill-conditioned or huge data, blocked
passes across the thread pool) are in ``symnorm.runtime.kernels.norm``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core.dims import norm_axis, same_shape_backward
from ..core.errors import ShapeError
from ..core.params import param, positive, in_range
from ..core.registry import Op, Result, register
from ._util import compute_dtype


def moments(x, axes):
    """(mean, biased variance) over ``axes``, keeping them as size 1."""
    mean = x.mean(axis=axes, keepdims=True)
    return mean, np.square(x - mean).mean(axis=axes, keepdims=True)


def normalized_grad(dxhat, xhat, inv, axes):
    """The data gradient of x̂ = (x - mean)·inv with the statistics from x itself:
    inv·(dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂)) over ``axes``."""
    return inv * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                  - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))


def _other_axes(ndim, keep):
    return tuple(i for i in range(ndim) if i != keep)


def _along(v, ndim, axis):
    """A per-channel vector shaped to broadcast along ``axis`` of an ``ndim``-d array."""
    return v.reshape(tuple(-1 if i == axis else 1 for i in range(ndim)))


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
    no_grad_outputs = ("mean", "var")
    aux_init = {"moving_mean": "zero", "moving_var": "one"}
    color = "#bebada"

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

    def forward(self, data, gamma, beta, moving_mean, moving_var, *, train):
        ax = self.axis % data.ndim
        axes = _other_axes(data.ndim, ax)
        dt = compute_dtype(data.dtype)
        x = data.astype(dt)
        batch = train and not self.use_global_stats
        if batch:
            if x.size == x.shape[ax]:
                raise ShapeError("training needs more than 1 value per channel, got input "
                                 "shape %s (axis=%d); use a larger batch, use_global_stats=True, "
                                 "or LayerNorm/GroupNorm" % (data.shape, self.axis))
            mean, var = (v.reshape(-1) for v in moments(x, axes))
            mom = self.momentum
            aux = ((moving_mean * mom + mean * (1 - mom)).astype(moving_mean.dtype),
                   (moving_var * mom + var * (1 - mom)).astype(moving_var.dtype))
        else:
            mean, var, aux = moving_mean.astype(dt), moving_var.astype(dt), None
        inv = (1 / np.sqrt(var + self.eps)).astype(dt)
        w = self.gamma_used(gamma)
        xhat = (x - _along(mean, x.ndim, ax)) * _along(inv, x.ndim, ax)
        y = xhat * _along(w.astype(dt), x.ndim, ax) + _along(beta.astype(dt), x.ndim, ax)
        return Result((y.astype(data.dtype), mean.astype(dt), inv),
                      aux, (xhat, inv, w, batch, ax))

    def backward(self, saved, dy):
        # dβ = Σdy, dγ = Σdy·x̂; dx = γ·inv·dy with the moving statistics, else
        # γ·inv·(dy - mean(dy) - x̂·mean(dy·x̂)) (the statistics depend on x)
        xhat, inv, w, batch, ax = saved
        axes = _other_axes(dy.ndim, ax)
        d = dy.astype(xhat.dtype)
        dbeta, dgamma = d.sum(axis=axes), (d * xhat).sum(axis=axes)
        k = _along((w * inv).astype(xhat.dtype), dy.ndim, ax)
        dx = normalized_grad(d, xhat, 1, axes) * k if batch else d * k
        return (dx.astype(dy.dtype), self.gamma_grad(dgamma.astype(w.dtype)),
                dbeta.astype(w.dtype))

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

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)

    def forward(self, data, gamma, beta, *, train):
        ax = self.axis % data.ndim
        x = data.astype(compute_dtype(data.dtype))
        mean, var = moments(x, (ax,))
        std = np.sqrt(var + self.eps)
        xhat = (x - mean) / std
        y = xhat * _along(gamma.astype(x.dtype), x.ndim, ax) + _along(beta.astype(x.dtype), x.ndim, ax)
        return Result((y.astype(data.dtype), mean.astype(data.dtype), std.astype(data.dtype)),
                      saved=(xhat, 1 / std, gamma, ax))

    def backward(self, saved, dy):
        xhat, inv, gamma, ax = saved
        d = dy.astype(xhat.dtype)
        others = _other_axes(dy.ndim, ax)
        dx = normalized_grad(d * _along(gamma.astype(d.dtype), dy.ndim, ax), xhat, inv, (ax,))
        return (dx.astype(dy.dtype), (d * xhat).sum(axis=others).astype(gamma.dtype),
                d.sum(axis=others).astype(gamma.dtype))

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3, 5)}
        yield {"axis": 1, "output_mean_var": True}, {"data": (3, 4, 2)}


def _grouped(data, rows, gamma, beta, eps):
    """InstanceNorm and GroupNorm: each sample's channel (or group of channels) is a row
    normalized over itself, then scaled by its channel's or group's gamma and beta.
    Returns (y, mean, var, saved); mean and var per row, (N, rows per sample)."""
    n = data.shape[0]
    x = data.astype(compute_dtype(data.dtype)).reshape(n, rows, -1)
    mean, var = moments(x, (2,))
    inv = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv
    g = gamma.astype(x.dtype).reshape(1, -1, 1)
    per = rows // len(gamma)          # rows per gamma entry (GroupNorm: 1; InstanceNorm: 1)
    y = (xhat.reshape(n, len(gamma), per, -1) * g[..., None]
         + beta.astype(x.dtype).reshape(1, -1, 1, 1)).reshape(data.shape)
    return y.astype(data.dtype), mean[..., 0], var[..., 0], (xhat, inv, gamma, data.shape)


def _grouped_backward(saved, dy):
    xhat, inv, gamma, shape = saved
    n, rows = xhat.shape[:2]
    d = dy.astype(xhat.dtype).reshape(xhat.shape)
    g = np.repeat(gamma.astype(d.dtype), rows // len(gamma)).reshape(1, rows, 1)
    dx = normalized_grad(d * g, xhat, inv, (2,))
    per_gamma = (n, len(gamma), -1)
    return (dx.reshape(shape).astype(dy.dtype),
            (d * xhat).reshape(per_gamma).sum(axis=(0, 2)).astype(gamma.dtype),
            d.reshape(per_gamma).sum(axis=(0, 2)).astype(gamma.dtype))


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

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)

    def forward(self, data, gamma, beta, *, train):
        y, mean, var, saved = _grouped(data, data.shape[1], gamma, beta, self.eps)
        return Result((y, mean.astype(data.dtype), var.astype(data.dtype)), saved=saved)

    def backward(self, saved, dy):
        return _grouped_backward(saved, dy)

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

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)

    def forward(self, data, gamma, beta, *, train):
        y, mean, var, saved = _grouped(data, self.num_groups, gamma, beta, self.eps)
        std = np.sqrt(var + self.eps)
        return Result((y, mean.astype(data.dtype), std.astype(data.dtype)), saved=saved)

    def backward(self, saved, dy):
        return _grouped_backward(saved, dy)

    @classmethod
    def examples(cls):
        yield {"num_groups": 2}, {"data": (2, 4, 3, 3)}
        yield {"num_groups": 3, "output_mean_var": True}, {"data": (2, 6, 5)}
