"""The Pooling kernel: max/avg/sum/lp windows as one ufunc per kernel offset over strided
views of the padded input (no window copies), a phase split for overlapping strided
windows, reused scratch buffers, in the channels-first and the batch-last layout."""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from ...core.registry import Result
from ...ops.pool import Pooling
from ..buffers import padded, workspace, workspace_filled
from .blas import copy_runs
from .registry import kernel
from .spatial_run import SpatialRun


class PoolRun(SpatialRun):
    """Pooling's fast forward/backward for one op in one layout."""

    # the spatial axes start after (N, C) channels-first, after C batch-last, and the
    # batch-last layout has N as a trailing axis every per-position array broadcasts over
    def _lead(self):
        return 1 if self._bl else 2

    def _trail(self):
        return (1,) if self._bl else ()

    def _padded(self, x, geom, scratch=False):
        """The input padded for the windows of ``geom`` (in a reused buffer with ``scratch``)."""
        _, _, pad, _, extra = geom
        if not (any(pad) or any(extra)):
            return x
        return padded(x, self._lead(), pad, tuple(p + e for p, e in zip(pad, extra)),
                      -np.inf if self.pool_type == "max" else 0, "pool-pad" if scratch else None)

    def _offsets(self, kernel, stride, out):
        """Slices for every kernel offset (row-major): the input elements that the offset
        contributes to each output position, as one strided view."""
        lead = (slice(None),) * self._lead()
        for off in itertools.product(*(range(k) for k in kernel)):
            yield lead + tuple(slice(o, o + s * (n - 1) + 1, s) for o, s, n in zip(off, stride, out))

    def _divisor(self, spatial, geom, dtype):
        """Each window's element count (what average pooling divides by): a scalar when
        every window has the same count, which numpy applies ~1.8x faster than a broadcast
        array (same quotients).  Cached: it depends on the geometry only (~45 µs a call)."""
        kernel, stride, pad, out, _ = geom
        return _window_counts(tuple(spatial), tuple(kernel), tuple(stride), tuple(pad), tuple(out),
                              self.count_include_pad is not False, np.dtype(dtype).str,
                              len(self._trail()))

    # Window reads.  Each kernel offset reads one strided view of the padded input, one
    # ufunc per offset (no window copies: 16x faster than reducing a reshaped window view
    # for 2x2 average pooling).  With a stride > 1 those views have short inner runs (one
    # element in NCHW); then the input is first split by stride phase ("space to depth":
    # phase p holds positions p, p+s, p+2s, ...), where every offset's window is a unit-
    # stride slice whose inner run is a whole output row (times N, batch-last).

    PHASE_RUN = 128     # split by phase when a direct view's inner run is shorter than this

    def _use_phases(self, xp, kernel, stride, out):
        # the split is one pass over the input: worth it when windows overlap (each input
        # element read more than once), not for tiling windows like 2x2/2
        if all(s == 1 for s in stride) or math.prod(kernel) <= math.prod(stride):
            return False
        trail = math.prod(xp.shape[self._lead() + len(stride):])
        run = trail if stride[-1] > 1 else trail * out[-1]
        return run < self.PHASE_RUN

    def _phases_shape(self, padded_shape, stride):
        """Shape of the phase split of a padded array: (number of phases, *per-phase shape)."""
        lead, nsp = self._lead(), len(stride)
        per = tuple(-(-h // s) for h, s in zip(padded_shape[lead:lead + nsp], stride))
        return (math.prod(stride),) + tuple(padded_shape[:lead]) + per + tuple(padded_shape[lead + nsp:])

    def _phase_pairs(self, padded, phases, stride):
        """(positions ``p + s·i`` of ``padded``, the part of ``phases[j]`` holding them) for
        every phase p, the j-th in row-major order over the strides."""
        lead = (slice(None),) * self._lead()
        for j, ph in enumerate(itertools.product(*(range(s) for s in stride))):
            view = padded[lead + tuple(slice(p, None, s) for p, s in zip(ph, stride))]
            yield view, phases[j][lead + tuple(slice(0, n) for n in view.shape[len(lead):len(lead) + len(stride)])]

    def _phase_split(self, xp, stride, scratch):
        """The padded input split by stride phase (in a reused buffer with ``scratch``)."""
        shape = self._phases_shape(xp.shape, stride)
        phases = workspace(shape, xp.dtype, "pool-phases") if scratch else np.empty(shape, xp.dtype)
        for view, part in self._phase_pairs(xp, phases, stride):
            copy_runs(part, view)
        return phases

    def _phase_merge(self, phases, stride, padded_shape, dtype):
        """The inverse of ``_phase_split``: a padded-shape array (scratch) from its phases."""
        out = workspace(padded_shape, dtype, "pool-merge")
        for view, part in self._phase_pairs(out, phases, stride):
            copy_runs(view, part)
        return out

    def _windows(self, src, kernel, stride, out, phased):
        """One view per kernel offset (row-major): the elements that offset contributes to
        each output position, in ``src`` (the padded input, or its phases)."""
        lead = (slice(None),) * self._lead()
        if not phased:
            return [src[sl] for sl in self._offsets(kernel, stride, out)]
        phase_ids = {ph: j for j, ph in enumerate(itertools.product(*(range(s) for s in stride)))}
        views = []
        for off in itertools.product(*(range(k) for k in kernel)):
            j = phase_ids[tuple(o % s for o, s in zip(off, stride))]
            views.append(src[j][lead + tuple(slice(o // s, o // s + n) for o, s, n in zip(off, stride, out))])
        return views

    def forward(self, data, *, train):
        # max and lp pooling keep the windows' source (the padded input or its phases) for
        # backward; every other intermediate lives in reused scratch buffers
        keep = self.pool_type in ("max", "lp")
        kernel, stride, _, out, _ = geom = self._window(self._split(data.shape)[2])
        phased = self._use_phases(data, kernel, stride, out)
        xp = self._padded(data, geom, scratch=phased or not keep)
        src = self._phase_split(xp, stride, scratch=not keep) if phased else xp
        views = self._windows(src, kernel, stride, out, phased)
        if self.pool_type == "max":
            # a running maximum (masked copies from strided views cost 5x more); backward
            # finds the first maximum of each window again from the saved input
            y = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
            for v in views[2:]:
                np.maximum(y, v, out=y)
            saved = ((src, y), xp.shape, geom, data.shape, phased)
        elif self.pool_type in ("avg", "sum"):
            y = np.add(views[0], views[1]) if len(views) > 1 else views[0].copy()
            for v in views[2:]:
                y += v
            if self.pool_type == "avg":
                y /= self._divisor(self._split(data.shape)[2], geom, y.dtype)
            saved = (None, xp.shape, geom, data.shape, phased)
        else:
            p = self.p_value
            acc = np.zeros(views[0].shape, np.float64)
            for v in views:
                acc += np.abs(v) ** p
            y = np.power(acc, 1.0 / p)
            saved = ((src, y), xp.shape, geom, data.shape, phased)
        y = np.ascontiguousarray(y, dtype=data.dtype)
        return Result((y,) * len(self.output_names()), saved=saved)

    def backward(self, saved, dy):
        aux, padded_shape, geom, xshape, phased = saved
        kernel, stride, pad, out, _ = geom
        spatial = self._split(xshape)[2]
        if self.pool_type == "avg":
            dy = dy / self._divisor(spatial, geom, dy.dtype)
        if (self.pool_type in ("avg", "sum") and kernel == stride and not any(pad)
                and tuple(o * k for o, k in zip(out, kernel)) == spatial):
            # windows tile the input exactly: the gradient is one broadcast copy (a divide
            # into the broadcast view instead measured 15% slower than divide-then-copy)
            lead, trail = xshape[:self._lead()], (xshape[-1:] if self._bl else ())
            dx = np.empty(xshape, dy.dtype)
            tiled = dx.reshape(lead + tuple(x for o, k in zip(out, kernel) for x in (o, k)) + trail)
            tiled[...] = dy.reshape(lead + tuple(x for o in out for x in (o, 1)) + trail)
            return (dx,)
        lead = self._lead()
        cropped = tuple(padded_shape) != tuple(xshape)
        if phased:
            gsrc = workspace_filled(self._phases_shape(padded_shape, stride), dy.dtype, 0, "pool-grad")
        elif cropped:
            gsrc = workspace_filled(padded_shape, dy.dtype, 0, "pool-grad")
        else:
            gsrc = np.zeros(padded_shape, dy.dtype)          # it is the result
        gviews = self._windows(gsrc, kernel, stride, out, phased)
        if self.pool_type == "lp":
            src, y = aux
            p = self.p_value
            with np.errstate(divide="ignore", invalid="ignore"):
                coef = np.where(y > 0, dy / np.power(y, p - 1), 0)
            for v, g in zip(self._windows(src, kernel, stride, out, phased), gviews):
                g += (np.power(np.abs(v), p - 1) * np.sign(v) * coef).astype(dy.dtype)
        elif self.pool_type == "max":
            src, y = aux
            hit = workspace(dy.shape, bool, "pool-hit")
            claimed = workspace_filled(dy.shape, bool, False, "pool-claimed")
            tmp = workspace(dy.shape, dy.dtype, "pool-tmp")
            for v, g in zip(self._windows(src, kernel, stride, out, phased), gviews):
                np.equal(v, y, out=hit)
                np.greater(hit, claimed, out=hit)      # hit and not yet claimed: the first maximum
                claimed |= hit
                np.multiply(dy, hit, out=tmp)
                g += tmp
        else:
            for g in gviews:
                g += dy
        dxp = self._phase_merge(gsrc, stride, padded_shape, dy.dtype) if phased else gsrc
        if dxp is gsrc and not cropped:
            return (dxp,)
        dx = np.empty(xshape, dy.dtype)                       # never a view of scratch
        np.copyto(dx, dxp[(slice(None),) * lead + tuple(slice(p, p + h) for p, h in zip(pad, spatial))])
        return (dx,)



def _pool_run(op, layout, in_shapes):
    return PoolRun(op, layout == "batch_last")


@kernel(Pooling, layout="any", prepare=_pool_run, gain=True, fresh_outputs=True,
        keeps_output=lambda op: op.pool_type in ("max", "lp"),     # their backward reads y
        layout_slots=lambda op: (("data",), ("output", "workspace")),
        when=lambda op: op.layout in (None, "NCW", "NCHW", "NCDHW"))
def pooling(run, ctx, data, *, train):
    return run.forward(data, train=train)


@pooling.backward
def pooling_backward(run, ctx, saved, dy):
    return run.backward(saved, dy)


@functools.lru_cache(maxsize=256)
def _window_counts(spatial, kernel, stride, pad, out, include_pad, dtype, trail):
    """Pooling's per-window element counts for one geometry (see Pooling._divisor)."""
    counts = []
    for h, k, s, p, o in zip(spatial, kernel, stride, pad, out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, h + p)
        counts.append(end - start if include_pad else np.minimum(end, h) - np.maximum(start, 0))
    dtype = np.dtype(dtype)
    div = counts[0].astype(dtype)
    for c in counts[1:]:
        div = np.multiply.outer(div, c.astype(dtype))
    if div.min() == div.max():
        return dtype.type(div.flat[0])
    div = div.reshape(div.shape + (1,) * trail)
    div.flags.writeable = False                   # shared by every call with this geometry
    return div
