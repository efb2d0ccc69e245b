"""What the convolution and pooling kernels share: an op run in one storage layout,
channels-first ``(N, C, *S)`` or batch-last ``(C, *S, N)``."""
from __future__ import annotations


class SpatialRun:
    """One spatial op (its params and geometry read through it) in one layout; ``_bl``
    says whether tensors are stored batch-last (a region of the batch-last pass)."""

    def __init__(self, op, batch_last: bool):
        self.op, self._bl = op, batch_last

    def __getattr__(self, name):            # params and shape helpers: the op's
        return getattr(self.op, name)

    def _split(self, shape):
        """(batch, channels, spatial dims) of a data shape in this run's layout."""
        if self._bl:
            return shape[-1], shape[0], tuple(shape[1:-1])
        return shape[0], shape[1], tuple(shape[2:])

    def _join(self, n, c, spatial):
        """A data shape in this run's layout."""
        return (c,) + tuple(spatial) + (n,) if self._bl else (n, c) + tuple(spatial)
