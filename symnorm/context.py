"""Devices (``mx.context``).  symnorm computes on the CPU: ``cpu()`` is the only context,
and the GPU calls of MXNet scripts answer accordingly (``num_gpus()`` is 0, ``gpu()``
raises a clear error), so ``mx.gpu() if mx.context.num_gpus() else mx.cpu()`` ports as is."""
from __future__ import annotations


class Context:
    """A device.  symnorm computes on the CPU; this exists for MXNet-compatible signatures."""

    def __init__(self, device_type="cpu", device_id=0):
        if isinstance(device_type, Context):     # MXNet's copy constructor, Context(ctx)
            device_type, device_id = device_type.device_type, device_type.device_id
        if device_type != "cpu":
            raise ValueError("symnorm runs on the CPU only; got device %r" % device_type)
        self.device_type, self.device_id = device_type, device_id

    def __repr__(self):
        return "%s(%d)" % (self.device_type, self.device_id)

    def __eq__(self, other):
        return isinstance(other, Context) and (self.device_type, self.device_id) == \
            (other.device_type, other.device_id)

    def __hash__(self):
        return hash((self.device_type, self.device_id))

    # ``with mx.Context(ctx):`` / ``with mx.cpu():`` makes ctx the default device in MXNet;
    # the CPU is symnorm's only one, so the block runs as it is
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def cpu(device_id: int = 0) -> Context:
    """The CPU context (MXNet's ``mx.cpu()``)."""
    return Context("cpu", device_id)


def gpu(device_id: int = 0) -> Context:
    """MXNet's ``mx.gpu()``: symnorm has no GPU backend, so this raises."""
    raise ValueError("symnorm runs on the CPU only: use sn.cpu() (sn.context.num_gpus() is 0)")


def num_gpus() -> int:
    """The number of GPUs symnorm can use: none."""
    return 0


def current_context() -> Context:
    """The default context: the CPU."""
    return cpu()


__all__ = ["Context", "cpu", "gpu", "num_gpus", "current_context"]
