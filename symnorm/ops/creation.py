"""Arrays made from parameters alone: _zeros, _ones, _full, _arange."""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from ..core.dims import MAX_DIM
from ..core.errors import ParamError
from ..core.params import Shape, param
from ..core.registry import Op, Result, register


# ============================================================ constants (no inputs)

class _Init(Op):
    """An array made from params alone (no inputs, no gradient)."""
    inputs = ()
    differentiable = False
    shape: Shape = param((), doc="output shape; -1 = a dim the graph decides (from the op "
                                 "that uses the array, as MXNet infers it)")
    dtype: str = param("float32", choices=("float32", "float64", "float16", "int32", "int64", "uint8", "int8"))

    def infer_shape(self):
        return (), (tuple(None if d < 0 else d for d in self.shape),)

    def complete(self, out_shapes):
        if all(d >= 0 for d in self.shape):
            return self
        return dataclasses.replace(self, shape=tuple(out_shapes[0]))

    def infer_type(self):
        return (), (np.dtype(self.dtype),)

    def forward(self, *, train):
        return Result((self.make(),))

    @classmethod
    def examples(cls):
        yield {"shape": (2, 3)}, {}


@register(name="_zeros")
class Zeros(_Init):
    """An array of zeros (``sym.zeros(shape)``)."""
    def make(self):
        return np.zeros(self.shape, self.dtype)


@register(name="_ones")
class Ones(_Init):
    """An array of ones (``sym.ones(shape)``)."""
    def make(self):
        return np.ones(self.shape, self.dtype)


@register(name="_full")
class Full(_Init):
    """An array filled with ``value`` (``sym.full(shape, value)``)."""
    value: float = param(0.0)

    def make(self):
        return np.full(self.shape, self.value, self.dtype)


@register(name="_arange")
class Arange(_Init):
    """start, start+step, ... below stop (``sym.arange``), each repeated ``repeat`` times."""
    start: float = param(0.0)
    stop: Optional[float] = param(None)
    step: float = param(1.0)
    repeat: int = param(1)

    def _bounds(self):
        return (0.0, self.start) if self.stop is None else (self.start, self.stop)

    def _length(self) -> int:
        """numpy's arange length, computed without making the array: the shape of a
        graph must not cost memory in proportion to a param."""
        start, stop = self._bounds()
        n = (stop - start) / self.step
        if n == 0.0 and stop != start:        # underflow: numpy makes one element if n > 0
            n = 0.0 if math.copysign(1.0, n) < 0 else 1.0
        return max(0, math.ceil(n)) * self.repeat

    def check(self):
        values = self._bounds() + (self.step,)
        if not all(math.isfinite(v) for v in values):
            raise ParamError("start, stop and step must be finite, got %s, %s, %s" % values)
        if self.step == 0:
            raise ParamError("step must not be 0")
        if self.repeat < 1:
            raise ParamError("repeat must be >= 1, got %d" % self.repeat)
        start, stop = self._bounds()
        if not math.isfinite((stop - start) / self.step) or self._length() > MAX_DIM:
            raise ParamError("arange(%s, %s, %s) repeated %d times has more elements than an "
                             "int64 can count" % (values + (self.repeat,)))

    def _values(self):
        start, stop = self._bounds()
        return np.repeat(np.arange(start, stop, self.step), self.repeat).astype(self.dtype)

    def infer_shape(self):
        return (), ((self._length(),),)

    def make(self):
        return self._values()

    @classmethod
    def examples(cls):
        yield {"start": 2, "stop": 7, "step": 2}, {}
