"""Variable-length sequence ops, MXNet 1.9.1 names: SequenceMask, SequenceLast and
SequenceReverse.  Data is (T, B, ...) for ``axis=0`` or (B, T, ...) for ``axis=1``; with
``use_sequence_length`` a second input of shape (B,) holds each sequence's length (read
as an integer, truncated, as MXNet does).  Lengths get no gradient."""
from __future__ import annotations

import numpy as np

from ..core.dims import merge
from ..core.dtype import int_labels
from ..core.errors import DataError, ParamError, ShapeError
from ..core.params import param
from ..core.registry import Op, Result, register


class _Sequence(Op):
    """What the three share: the optional length input, the axis, the length checks."""
    inputs = ("data", "sequence_length")
    no_grad_inputs = ("sequence_length",)
    use_sequence_length: bool = param(False, doc="read lengths from the second input")
    axis: int = param(0, doc="the sequence axis: 0 (T, B, ...) or 1 (B, T, ...)")
    max_axis = 1
    # lengths the generated tests draw (truncated: 1 or 2, within every example's T >= 3)
    input_range = {"sequence_length": (1.0, 2.99)}

    def check(self):
        if self.axis not in range(self.max_axis + 1):
            raise ParamError("param 'axis' must be %s, got %d"
                             % ("0 or 1" if self.max_axis else "0", self.axis))

    def arguments(self):
        return self.inputs if self.use_sequence_length else ("data",)

    def _lengths_shape(self, data, seq):
        """(data, lengths' shape (B,)) checked against each other."""
        if len(data) < 2:
            raise ShapeError("data must have at least 2 dims (%s, ...), got %s"
                             % ("T, B" if self.axis == 0 else "B, T", data))
        batch = data[1 - self.axis]
        try:
            lens = merge(seq, (batch,), "sequence_length")
        except ShapeError:
            raise ShapeError("sequence_length must have shape (%s,) (the batch size of data "
                             "%s), got %s" % (batch, data, seq)) from None
        return lens

    def infer_type(self, data, seq=None):
        if data is None:
            return None
        ins = (data,) if not self.use_sequence_length else (data, seq if seq is not None else data)
        return ins, (data,)

    def _time_major(self, data):
        return data if self.axis == 0 else np.swapaxes(data, 0, 1)

    def _lengths(self, seq, t, lo):
        """Lengths as int64, each in [lo, t] (``DataError`` naming the first bad one)."""
        lens = int_labels(seq, "sequence_length").reshape(-1)
        bad = np.flatnonzero((lens < lo) | (lens > t))
        if bad.size:
            i = int(bad[0])
            raise DataError("sequence_length[%d] is %d; lengths must be in [%d, %d] (the "
                            "sequence axis has %d steps)" % (i, lens[i], lo, t, t))
        return lens

    @classmethod
    def examples(cls):
        yield {}, {"data": (3, 2, 2)}
        yield {"use_sequence_length": True}, {"data": (4, 3, 2), "sequence_length": (3,)}
        if cls.max_axis:
            yield {"use_sequence_length": True, "axis": 1}, {"data": (2, 3), "sequence_length": (2,)}


@register
class SequenceMask(_Sequence):
    """out[t, b] = data[t, b] for t < length[b], else ``value``; dx = dy where kept, 0 where
    masked.  Without lengths the data passes unchanged."""
    value: float = param(0.0, doc="what masked steps are set to")

    def infer_shape(self, data, seq=None):
        if data is None:
            return None
        if not self.use_sequence_length:
            return (data,), (data,)
        return (data, self._lengths_shape(data, seq)), (data,)

    def forward(self, data, sequence_length=None, *, train):
        if not self.use_sequence_length:
            return Result((data.copy(),), saved=None)
        x = self._time_major(data)
        lens = self._lengths(sequence_length, x.shape[0], 0)
        keep = (np.arange(x.shape[0])[:, None] < lens[None, :]).reshape(x.shape[:2] + (1,) * (x.ndim - 2))
        y = np.where(keep, x, data.dtype.type(self.value))
        return Result((self._time_major(y).astype(data.dtype),), saved=keep)

    def backward(self, keep, dy):
        if keep is None:
            return (dy, None) if self.use_sequence_length else (dy,)
        g = self._time_major(np.where(keep, self._time_major(dy), 0)).astype(dy.dtype)
        return g, None


@register
class SequenceLast(_Sequence):
    """out[b] = data[length[b] - 1, b] (the last valid step; the last step without
    lengths), of data's shape without the sequence axis; dx is dy at that step, 0 elsewhere."""

    def infer_shape(self, data, seq=None):
        if data is None:
            return None
        if len(data) < 2:
            self._lengths_shape(data, seq)                  # raises the rank error
        out = tuple(d for i, d in enumerate(data) if i != self.axis)
        if not self.use_sequence_length:
            return (data,), (out,)
        return (data, self._lengths_shape(data, seq)), (out,)

    def forward(self, data, sequence_length=None, *, train):
        x = self._time_major(data)
        t, b = x.shape[:2]
        lens = self._lengths(sequence_length, t, 1) if self.use_sequence_length else np.full(b, t)
        pick = lens - 1
        return Result((x[pick, np.arange(b)].copy(),), saved=(x.shape, pick))

    def backward(self, saved, dy):
        shape, pick = saved
        g = np.zeros(shape, dy.dtype)
        g[pick, np.arange(shape[1])] = dy
        g = self._time_major(g)
        return (g, None) if self.use_sequence_length else (g,)


@register
class SequenceReverse(_Sequence):
    """out[t, b] = data[length[b] - 1 - t, b] for t < length[b], else data[t, b] (the first
    length[b] steps reversed, the padding in place); the whole axis without lengths.  dx
    is dy put through the same permutation.  Only ``axis=0``, as in MXNet."""
    max_axis = 0

    def infer_shape(self, data, seq=None):
        if data is None:
            return None
        if not self.use_sequence_length:
            if len(data) < 2:
                self._lengths_shape(data, seq)
            return (data,), (data,)
        return (data, self._lengths_shape(data, seq)), (data,)

    def _index(self, t, lens):
        steps = np.arange(t)[:, None]
        return np.where(steps < lens[None, :], lens[None, :] - 1 - steps, steps)

    def forward(self, data, sequence_length=None, *, train):
        t, b = data.shape[:2]
        lens = self._lengths(sequence_length, t, 0) if self.use_sequence_length else np.full(b, t)
        idx = self._index(t, lens)
        return Result((data[idx, np.arange(b)[None, :]],), saved=idx)

    def backward(self, idx, dy):
        # the permutation is its own inverse: reversing twice is the identity
        g = dy[idx, np.arange(dy.shape[1])[None, :]]
        return (g, None) if self.use_sequence_length else (g,)
