"""Same-shape results: Cast (cast), add_n (ElementWiseSum), make_loss, zeros_like,
ones_like (MXNet 1.9.1 names and semantics)."""
from __future__ import annotations

import numpy as np

from ..core.errors import ParamError
from ..core.params import param
from ..core.registry import Op, Result, register

CAST_DTYPES = ("bfloat16", "bool", "float16", "float32", "float64", "int32", "int64", "int8", "uint8")
"""MXNet 1.9.1's choices for Cast's ``dtype`` (bfloat16 is refused: numpy has none)."""


def _convert(x, dtype: np.dtype):
    """x in ``dtype`` as MXNet's static_cast does it: floats to ints truncate toward zero
    and wrap around modulo 2**bits (-1.7 -> 255 as uint8), anything to bool is x != 0."""
    # ufuncs on 0-d arrays give numpy scalars: np.asarray keeps an array
    if dtype == np.bool_:
        return np.asarray(x != 0)
    if dtype.kind in "iu" and x.dtype.kind == "f":
        with np.errstate(invalid="ignore"):        # NaN/inf: undefined in C++ too
            return np.asarray(np.trunc(x).astype(np.int64).astype(dtype))
    return x.astype(dtype)


@register(name="Cast")
class Cast(Op):
    """y = x converted to ``dtype`` (floats to ints truncate toward zero, wrapping like a C
    cast).  Gradient: dy converted back to x's dtype."""
    aliases = ("cast",)
    dtype: str = param(choices=CAST_DTYPES, doc="output dtype")

    def check(self):
        if self.dtype == "bfloat16":
            raise ParamError("dtype 'bfloat16' is not supported (numpy has no bfloat16)")

    def infer_type(self, data):
        return (data,), (np.dtype(self.dtype),)

    def forward(self, data, *, train):
        return Result((_convert(data, np.dtype(self.dtype)),), saved=data.dtype)

    def backward(self, dtype, dy):
        return (_convert(dy, dtype),)

    @classmethod
    def examples(cls):
        yield {"dtype": "float64"}, {"data": (2, 3)}


@register(name="add_n")
class AddN(Op):
    """out = arg0 + arg1 + ... (``num_args`` same-shape inputs).  Gradient: dy to each."""
    aliases = ("ElementWiseSum",)
    variadic = "num_args"
    num_args: int = param(doc="number of inputs", check=lambda v: None if v >= 1 else "must be >= 1")

    def forward(self, *args, train):
        out = args[0].copy()
        for a in args[1:]:
            out += a
        return Result((out,))

    def backward(self, saved, dy):
        return (dy,) * self.num_args

    @classmethod
    def examples(cls):
        yield {"num_args": 3}, {"arg0": (2, 3), "arg1": (2, 3), "arg2": (2, 3)}
        yield {"num_args": 1}, {"arg0": (4,)}


@register
class make_loss(Op):
    """y = x, a loss head: backward ignores the head gradient and sends ones (MXNet's
    ``make_loss``: no params; ``MakeLoss`` is the op with grad_scale and normalization)."""
    head_grad = "ignore"

    def forward(self, data, *, train):
        return Result((data.copy(),), saved=(data.shape, data.dtype))

    def backward(self, saved, dy=None):
        return (np.ones(*saved),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3)}


class _Like(Op):
    """An array of x's shape and dtype filled with a constant; x gets no gradient."""
    no_grad_inputs = ("data",)
    differentiable = False

    def forward(self, data, *, train):
        return Result((np.full(data.shape, self.fill, data.dtype),))

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3)}


@register
class zeros_like(_Like):
    """y = 0 with x's shape and dtype."""
    fill = 0


@register
class ones_like(_Like):
    """y = 1 with x's shape and dtype."""
    fill = 1
