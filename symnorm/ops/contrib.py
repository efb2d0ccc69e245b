"""Ops that MXNet keeps under ``sym.contrib`` (registered as ``_contrib_<Name>``)."""
from __future__ import annotations

import numpy as np

from ..core.errors import ShapeError
from ..core.params import param
from ..core.registry import Result, register
from ._np import channel_view, compute_dtype
from .norm import BatchNorm, batch_moments, normalize, normalize_backward


@register(name="_contrib_SyncBatchNorm")
class SyncBatchNorm(BatchNorm):
    """BatchNorm whose training statistics cover the *global* batch of all data-parallel
    ranks: one float64 all-reduce of per-channel (count, Σ(x-K), Σ(x-K)²) in forward, with
    K the moving mean (identical on every rank), made from each rank's exact statistics
    (BatchNorm's ``batch_moments``, so a mean far from K or huge values keep their digits), and one
    of (Σdy, Σdy·(x-mean)) in backward for the data gradient.  gamma/beta gradients stay
    per-rank: the store sums them like every other gradient.  With N ranks of batch B, the
    outputs, data gradients and moving statistics equal one BatchNorm on the N·B batch.

    ``ndev``/``key`` are accepted for MXNet compatibility; the communicator comes from the
    store the executor is given (``Executor.set_collective``), never from a global key.
    In one process it is exactly BatchNorm."""
    hint = "syncbatchnorm"
    needs_comm = True
    # MXNet's positional order (op_args): BatchNorm's first params, then ndev and key
    mx_positional = ("data", "gamma", "beta", "moving_mean", "moving_var", "eps", "momentum",
                     "fix_gamma", "use_global_stats", "output_mean_var", "ndev", "key")
    ndev: int = param(1, doc="accepted for MXNet compatibility; the store decides")
    key: str = param("", doc="accepted for MXNet compatibility; ignored")

    def forward(self, data, gamma, beta, moving_mean, moving_var, *, train, comm=None, out=None):
        if comm is None or comm.size == 1 or not train or self.use_global_stats:
            return super().forward(data, gamma, beta, moving_mean, moving_var, train=train, out=out)
        ax = self.axis % data.ndim
        dt = compute_dtype(data.dtype)
        x3 = channel_view(data, ax).astype(dt, copy=False)
        pre, c, post = x3.shape
        n = pre * post
        # this rank's exact statistics (BatchNorm's: the shifted path when the mean dwarfs
        # the spread, float64 when float32 sums overflow), combined in float64 around
        # K = the moving mean (identical on every rank): Σ n_r·(mean_r - K) and
        # Σ n_r·(var_r + (mean_r - K)²)
        _, var_r, z3, offset = batch_moments(x3)
        # this rank's mean unrounded: z = x - base per channel (base 0, or the shifted
        # path's K_r, exactly), so mean_r = base + o; float32's mean_r is off by half an
        # ulp of the mean, which can be much of a small spread
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
        inv = (1.0 / np.sqrt(var + self.eps)).astype(zt)
        w = self.gamma_used(gamma)
        # z - o = x - mean_r, so z - (o + mean - mean_r) = x - mean
        offset = (offset + (mu - dm)).astype(zt)
        y2 = normalize(z3, offset, inv, w, beta)
        m = self.momentum
        # in the aux dtype: a variance beyond float32 shows as inf there (and is not committed)
        aux = ((moving_mean * m + mean * (1 - m)).astype(moving_mean.dtype),
               (moving_var * m + var * (1 - m)).astype(moving_var.dtype))
        outs = (y2.reshape(data.shape).astype(data.dtype, copy=False), mean.astype(dt),
                inv.astype(dt))
        return Result(outs, aux, ("sync", (z3, offset, inv, w, True), count))

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
                self.gamma_grad(dgamma), dbeta)     # dgamma, dbeta: this rank's

    @classmethod
    def examples(cls):
        yield {"fix_gamma": False}, {"data": (4, 3, 2, 2)}

