"""Ops that MXNet keeps under ``sym.contrib`` (registered as ``_contrib_<Name>``)."""
from __future__ import annotations

from ..core.params import param
from ..core.registry import register
from .norm import BatchNorm


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
    In one process it is exactly BatchNorm: its reference forward and backward are
    BatchNorm's; the all-reduces are its kernel's (``symnorm.runtime.kernels.norm``), which
    the executor gives the communicator."""
    hint = "syncbatchnorm"
    # MXNet's positional order (op_args): BatchNorm's first params, then ndev and key
    mx_positional = ("data", "gamma", "beta", "moving_mean", "moving_var", "eps", "momentum",
                     "fix_gamma", "use_global_stats", "output_mean_var", "ndev", "key")
    ndev: int = param(1, doc="accepted for MXNet compatibility; the store decides")
    key: str = param("", doc="accepted for MXNet compatibility; ignored")

    @classmethod
    def examples(cls):
        yield {"fix_gamma": False}, {"data": (4, 3, 2, 2)}

