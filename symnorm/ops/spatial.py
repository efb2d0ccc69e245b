"""What Convolution, Deconvolution and Pooling share: kernel/stride/dilate/pad geometry in
the channels-first layout ``(N, C, *S)``."""
from __future__ import annotations

import functools
import itertools

from ..core.errors import ParamError
from ..core.registry import Op


def _expand(t, n, default):
    if len(t) == 0:
        return (default,) * n
    return tuple(t)


_LAYOUTS = ("NCW", "NCHW", "NCDHW")


class _Spatial(Op):
    """Shared kernel/stride/dilate/pad handling for Convolution and Pooling, in the
    channels-first layout ``(N, C, *S)`` (the batch-last layout of the layout pass is the
    kernels' business: ``symnorm.runtime.kernels.conv``)."""

    def _split(self, shape):
        """(batch, channels, spatial dims) of a data shape."""
        return shape[0], shape[1], tuple(shape[2:])

    def _join(self, n, c, spatial):
        """A data shape from its batch, channels and spatial dims."""
        return (n, c) + tuple(spatial)

    def _check_layout(self, nsp):
        if self.layout is not None and len(self.layout) != nsp + 2:
            raise ParamError("layout %r does not fit a %d-d kernel" % (self.layout, nsp))

    def _geometry(self, nsp):
        """(stride, dilate, pad), each expanded to ``nsp`` spatial dims (memoized on the
        instance: the kernels ask for it several times a call)."""
        memo = self.__dict__.setdefault("_memo", {})   # a plain dict beside the frozen fields
        geom = memo.get(("geometry", nsp))
        if geom is None:
            dilate = getattr(self, "dilate", ())      # Pooling has no dilation
            geom = memo[("geometry", nsp)] = (_expand(self.stride, nsp, 1), _expand(dilate, nsp, 1),
                                              _expand(self.pad, nsp, 0))
        return geom


@functools.lru_cache(maxsize=256)
def _kernel_offsets(kernel, stride, dilate, out_sp):
    """Convolution._offsets for one geometry, as a tuple (it is walked many times)."""
    return tuple((off, tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                             for o, d, s, n in zip(off, dilate, stride, out_sp)))
                 for off in itertools.product(*(range(k) for k in kernel)))
