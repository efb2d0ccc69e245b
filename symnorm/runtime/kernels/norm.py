"""Kernels of BatchNorm, SyncBatchNorm, LayerNorm, InstanceNorm and GroupNorm: one-pass
BLAS statistics with the exact shifted and float64 fallbacks (``norm_math``), cache-blocked
elementwise passes across the pool (``bn_passes``), the output written into a dying input
and the data gradient into its final buffer, and BatchNorm in batch-last regions (its
channel axis moved with the layout).  SyncBatchNorm's kernel all-reduces the statistics
over the ranks of a data-parallel run (``ctx.comm``)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ...core.errors import ShapeError
from ...core.registry import Result
from ...ops._util import channel_view, compute_dtype
from ...ops.contrib import SyncBatchNorm
from ...ops.norm import BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from . import bn_passes as K
from .blas import channel_dot, channel_sum
from .norm_math import (batch_moments, dx_buffer, from_rows_last, normalize, normalize_backward,
                        normalize_rows, normalize_rows_backward, rows_last)
from .registry import kernel


def _axis_moved(op, layout, in_shapes):
    """The op itself, or in a batch-last region the same op with its channel axis where
    the layout moved it ((N, C, *S) stored (C, *S, N): axis 1 becomes 0)."""
    if layout != "batch_last":
        return op
    ndim = len(in_shapes[0])
    ax = op.axis % ndim                 # valid: shape inference has checked it
    return dataclasses.replace(op, axis=ax - 1 if ax else ndim - 1)


@kernel(BatchNorm, layout="any", prepare=_axis_moved, gain=False, writes_into_input=True,
        fresh_outputs=True, keeps_output=False, grad_into_buffer=True)
def batchnorm(op, ctx, data, gamma, beta, moving_mean, moving_var, *, train):
    ax = op.axis % data.ndim
    dt = compute_dtype(data.dtype)
    x3 = channel_view(data, ax).astype(dt, copy=False)
    pre, c, post = x3.shape
    w = op.gamma_used(gamma)
    if not (train and not op.use_global_stats):
        inv = (1.0 / np.sqrt(moving_var + op.eps)).astype(dt)
        scale = inv * w
        x2, per = K.plane(x3)
        buf = data.reshape(x2.shape) if ctx.inplace and data.dtype == dt else np.empty(x2.shape, dt)
        y2 = K.affine(x2, per(scale), per((beta - moving_mean * scale).astype(dt)), buf)
        # outputs never alias the saved state (a consumer may overwrite them in place)
        outs = (y2.reshape(data.shape).astype(data.dtype, copy=False), moving_mean.copy(),
                inv.copy())
        return Result(outs, None, (x3, moving_mean.astype(dt), inv, w, False))
    if pre * post == 1:
        raise ShapeError("training needs more than 1 value per channel, got input shape "
                         "%s (axis=%d); use a larger batch, use_global_stats=True, or "
                         "LayerNorm/GroupNorm" % (data.shape, op.axis))
    # one-pass float32 statistics; the exact shifted path when a channel's mean dwarfs
    # its spread (there E[x²] - E[x]² would cancel to noise).  Either way backward keeps
    # data z and a per-channel offset o with x - mean = z - o (``batch_moments``).
    mean, var, z3, offset = batch_moments(x3)     # float64 if float32 sums overflowed
    inv = 1.0 / np.sqrt(var + var.dtype.type(op.eps))
    y2 = normalize(z3, offset, inv, w, beta)
    mom = op.momentum
    # in the aux dtype: a variance beyond float32 shows as inf there (and is not committed)
    aux = (moving_mean * mom + mean * (1 - mom), moving_var * mom + var * (1 - mom))
    if aux[1].dtype != moving_var.dtype:        # the float64 path (huge inputs)
        aux = tuple(a.astype(m.dtype) for a, m in zip(aux, (moving_mean, moving_var)))
    outs = (y2.reshape(data.shape).astype(data.dtype, copy=False),
            mean.astype(dt, copy=False), inv.astype(dt))
    return Result(outs, aux, (z3, offset, inv, w, True))


@batchnorm.backward
def batchnorm_backward(op, ctx, saved, dy):
    dy3 = channel_view(dy, op.axis % dy.ndim).astype(saved[0].dtype, copy=False)
    dx, dgamma, dbeta = normalize_backward(saved, dy3, ctx.grad_out)
    return (dx.reshape(dy.shape).astype(dy.dtype, copy=False), op.gamma_grad(dgamma), dbeta)


@kernel(SyncBatchNorm, layout="any", prepare=_axis_moved, writes_into_input=True,
        fresh_outputs=True, keeps_output=False, grad_into_buffer=True)
def sync_batchnorm(op, ctx, data, gamma, beta, moving_mean, moving_var, *, train):
    """BatchNorm's kernel over the global batch of every rank (see ``SyncBatchNorm``): one
    float64 all-reduce of per-channel (count, Σ(x-K), Σ(x-K)²) around K = the moving mean
    (identical on every rank), made from each rank's exact statistics."""
    comm = ctx.comm
    if comm is None or comm.size == 1 or not train or op.use_global_stats:
        return batchnorm.forward_fn(op, ctx, data, gamma, beta, moving_mean, moving_var, train=train)
    ax = op.axis % data.ndim
    dt = compute_dtype(data.dtype)
    x3 = channel_view(data, ax).astype(dt, copy=False)
    pre, c, post = x3.shape
    n = pre * post
    # this rank's exact statistics (the shifted path when the mean dwarfs the spread,
    # float64 when float32 sums overflow), combined in float64 around K = the moving mean:
    # Σ n_r·(mean_r - K) and Σ n_r·(var_r + (mean_r - K)²)
    _, var_r, z3, offset = batch_moments(x3)
    # this rank's mean unrounded: z = x - base per channel (base 0, or the shifted path's
    # K_r, exactly), so mean_r = base + o; float32's mean_r is off by half an ulp of the
    # mean, which can be much of a small spread
    base = x3[0, :, 0].astype(np.float64) - z3[0, :, 0]
    dm = base + offset - np.asarray(moving_mean, np.float64)
    sums = np.concatenate([[n], n * dm, n * (var_r.astype(np.float64) + dm * dm)])
    comm.allreduce_sum(sums)
    count = sums[0]
    if count <= 1:
        raise ShapeError("training needs more than 1 value per channel across all ranks")
    mu = sums[1:c + 1] / count
    var = np.maximum(sums[c + 1:] / count - mu * mu, 0)
    mean = np.asarray(moving_mean, np.float64) + mu
    zt = z3.dtype
    inv = (1.0 / np.sqrt(var + op.eps)).astype(zt)
    w = op.gamma_used(gamma)
    # z - o = x - mean_r, so z - (o + mean - mean_r) = x - mean
    offset = (offset + (mu - dm)).astype(zt)
    y2 = normalize(z3, offset, inv, w, beta)
    m = op.momentum
    # in the aux dtype: a variance beyond float32 shows as inf there (and is not committed)
    aux = ((moving_mean * m + mean * (1 - m)).astype(moving_mean.dtype),
           (moving_var * m + var * (1 - m)).astype(moving_var.dtype))
    outs = (y2.reshape(data.shape).astype(data.dtype, copy=False), mean.astype(dt),
            inv.astype(dt))
    return Result(outs, aux, ("sync", (z3, offset, inv, w, True), count))


@sync_batchnorm.backward
def sync_batchnorm_backward(op, ctx, saved, dy):
    if not isinstance(saved[0], str):          # the single-process BatchNorm path
        return batchnorm_backward(op, ctx, saved, dy)
    _, inner, count = saved
    comm = ctx.comm

    def global_sums(sdy, sdyxc):               # (Σdy, Σdy·(x - mean)) over all ranks
        c = len(sdy)
        glob = comm.allreduce_sum(np.concatenate([sdy, sdyxc]).astype(np.float64))
        return glob[:c].astype(sdy.dtype), glob[c:].astype(sdy.dtype), count
    dy3 = channel_view(dy, op.axis % dy.ndim).astype(inner[0].dtype, copy=False)
    dx, dgamma, dbeta = normalize_backward(inner, dy3, ctx.grad_out, global_sums)
    return (dx.reshape(dy.shape).astype(dy.dtype, copy=False),
            op.gamma_grad(dgamma), dbeta)     # dgamma, dbeta: this rank's


@kernel(LayerNorm, fresh_outputs=True, grad_into_buffer=True)
def layernorm(op, ctx, data, gamma, beta, *, train):
    ax = op.axis % data.ndim
    dt = compute_dtype(data.dtype)
    x3 = channel_view(data, ax).astype(dt, copy=False)     # normalize over C
    rows = rows_last(x3)                                    # (pre·post, C)
    # per-row statistics: the rows are BatchNorm's channels (one-pass sums, the exact
    # shifted path when a row's mean dwarfs its spread)
    mean, var, z3, offset = batch_moments(rows[None])     # float64 if sums overflowed
    std = np.sqrt(var + var.dtype.type(op.eps))
    inv = 1.0 / std
    xhat = normalize(z3, offset, inv, np.ones_like(inv), np.zeros_like(inv))
    y = K.affine(xhat, gamma.astype(xhat.dtype, copy=False), beta.astype(xhat.dtype, copy=False),
                 np.empty(xhat.shape, xhat.dtype))
    stat_shape = tuple(1 if i == ax else d for i, d in enumerate(data.shape))
    return Result((from_rows_last(y, x3.shape, data.shape).astype(data.dtype, copy=False),
                   mean.reshape(stat_shape).astype(data.dtype, copy=False),
                   std.reshape(stat_shape).astype(data.dtype, copy=False)),
                  saved=(xhat, inv, gamma, x3.shape))


@layernorm.backward
def layernorm_backward(op, ctx, saved, dy):
    # dx = inv·(dx̂ - mean_C(dx̂) - x̂·mean_C(dx̂·x̂)) with dx̂ = dy·gamma, per row
    xhat, inv, gamma, shape3 = saved
    dt = xhat.dtype
    d = rows_last(channel_view(dy, op.axis % dy.ndim).astype(dt, copy=False))
    n = xhat.shape[1]
    # dx̂ becomes dx in place, in the executor's gradient buffer when the rows are the
    # data's own layout
    buf = dx_buffer(ctx.grad_out, dt, d.shape) if shape3[2] == 1 else np.empty(d.shape, dt)
    dxh = K.scale(d, gamma.astype(dt, copy=False), buf)
    sdxh = channel_sum(dxh[None])
    sdxhx = channel_dot(dxh[None], xhat[None])
    col = (lambda v: v.astype(dt).reshape(-1, 1))
    K.axpby_plus(dxh, col(inv), xhat, col(-inv * sdxhx / n), col(-inv * sdxh / n), dxh)
    dgamma = channel_dot(d[..., None], xhat[..., None])    # column sums over the rows
    dbeta = channel_sum(d[..., None])
    return (from_rows_last(dxh, shape3, dy.shape).astype(dy.dtype, copy=False),
            dgamma.astype(gamma.dtype, copy=False), dbeta.astype(gamma.dtype, copy=False))


@kernel(InstanceNorm, fresh_outputs=True, grad_into_buffer=True)
def instancenorm(op, ctx, data, gamma, beta, *, train):
    n, c = data.shape[:2]
    y, mean, var, saved = normalize_rows(data, n * c, gamma, beta, op.eps)
    with np.errstate(over="ignore"):    # a variance past float32 is inf there, not an error
        var = var.reshape(n, c).astype(data.dtype, copy=False)
    return Result((y, mean.reshape(n, c).astype(data.dtype, copy=False), var), saved=saved)


@kernel(GroupNorm, fresh_outputs=True, grad_into_buffer=True)
def groupnorm(op, ctx, data, gamma, beta, *, train):
    n, g = data.shape[0], op.num_groups
    y, mean, var, saved = normalize_rows(data, n * g, gamma, beta, op.eps)
    std = np.sqrt(var + var.dtype.type(op.eps))
    return Result((y, mean.reshape(n, g).astype(data.dtype, copy=False),
                   std.reshape(n, g).astype(data.dtype, copy=False)), saved=saved)


def _rows_backward(op, ctx, saved, dy):
    return normalize_rows_backward(saved, dy, ctx.grad_out)


instancenorm.backward(_rows_backward)
groupnorm.backward(_rows_backward)
