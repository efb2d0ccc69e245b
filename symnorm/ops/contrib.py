"""Ops that MXNet keeps under ``sym.contrib`` (registered as ``_contrib_<Name>``)."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..params import param
from ..registry import Result, register
from ._np import channel_dot, channel_sum, channel_view, compute_dtype
from .norm import BatchNorm, normalize, normalize_backward, shifted


@register(name="_contrib_SyncBatchNorm")
class SyncBatchNorm(BatchNorm):
    """BatchNorm whose training statistics cover the *global* batch of all data-parallel
    ranks: one float64 all-reduce of per-channel (count, Σ(x-K), Σ(x-K)²) in forward, with
    K the moving mean (identical on every rank, so the shifted sums stay accurate), and one
    of (Σdy, Σdy·(x-mean)) in backward for the data gradient.  gamma/beta gradients stay
    per-rank: the store sums them like every other gradient.  With N ranks of batch B, the
    outputs, data gradients and moving statistics equal one BatchNorm on the N·B batch.

    ``ndev``/``key`` are accepted for MXNet compatibility; the communicator comes from the
    store the executor is given (``Executor.set_collective``), never from a global key.
    In one process it is exactly BatchNorm."""
    hint = "syncbatchnorm"
    needs_comm = True
    ndev: int = param(1, doc="accepted for MXNet compatibility; the store decides")
    key: str = param("", doc="accepted for MXNet compatibility; ignored")

    def forward(self, data, gamma, beta, moving_mean, moving_var, *, train, comm=None, out=None):
        if comm is None or comm.size == 1 or not train or self.use_global_stats:
            return super().forward(data, gamma, beta, moving_mean, moving_var, train=train, out=out)
        ax = self.axis % data.ndim
        dt = compute_dtype(data.dtype)
        x3 = channel_view(data, ax).astype(dt, copy=False)
        pre, c, post = x3.shape
        shift = moving_mean.astype(dt)
        d3 = shifted(x3, shift)
        sums = np.concatenate([[pre * post], channel_sum(d3).astype(np.float64),
                               channel_dot(d3, d3).astype(np.float64)])
        comm.allreduce_sum(sums)
        count = sums[0]
        if count <= 1:
            raise ShapeError("training needs more than 1 value per channel across all ranks")
        mu = sums[1:c + 1] / count
        var = np.maximum(sums[c + 1:] / count - mu * mu, 0)
        mean = (shift + mu).astype(dt)
        inv = (1.0 / np.sqrt(var + self.eps)).astype(dt)
        w = np.ones_like(gamma) if self.fix_gamma else gamma
        mu = mu.astype(dt)
        y2 = normalize(d3, mu, inv, w, beta)                 # BatchNorm's, over x - K
        m = self.momentum
        aux = (moving_mean * m + mean * (1 - m), moving_var * m + var.astype(dt) * (1 - m))
        outs = (y2.reshape(data.shape).astype(data.dtype, copy=False), mean, inv.copy())
        return Result(outs, aux, ("sync", (d3, mu, inv, w, True), count))

    def backward(self, saved, dy, *, out=None, comm=None):
        if not isinstance(saved[0], str):          # the single-process BatchNorm path
            return super().backward(saved, dy, out=out)
        _, inner, count = saved

        def global_sums(sdy, sdyxc):               # (Σdy, Σdy·(x - mean)) over all ranks
            c = len(sdy)
            glob = comm.allreduce_sum(np.concatenate([sdy, sdyxc]).astype(np.float64))
            return glob[:c].astype(sdy.dtype), glob[c:].astype(sdy.dtype), count
        dy3 = channel_view(dy, self.axis % dy.ndim).astype(inner[0].dtype, copy=False)
        dx, dgamma, dbeta = normalize_backward(inner, dy3, out, global_sums)
        return (dx.reshape(dy.shape).astype(dy.dtype, copy=False),
                None if self.fix_gamma else dgamma, dbeta)     # dgamma, dbeta: this rank's

    @classmethod
    def examples(cls):
        yield {"fix_gamma": False}, {"data": (4, 3, 2, 2)}
