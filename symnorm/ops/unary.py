"""One-input elementwise math (abs, exp, log, ...), clip, and gradient routing (BlockGrad,
_copy, MakeLoss)."""
from __future__ import annotations

import numpy as np

from ..core.errors import ParamError
from ..core.params import param
from ..core.registry import Op, Result, register


class _Unary(Op):
    """y = f(x), dy/dx from the saved input and output."""

    def forward(self, data, *, train):
        y = self.fn(data)
        return Result((y,), saved=(data, y))

    def backward(self, saved, dy):
        return (self.grad(saved[0], saved[1], dy),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3)}
        yield {}, {"data": (2, 3, 2)}


def _unary(name, doc, fn, grad, positive=False, aliases=()):
    attrs = {"__doc__": doc, "__module__": __name__, "fn": staticmethod(fn), "aliases": aliases,
             "grad": staticmethod(grad) if grad else None,
             "input_range": {"data": (0.5, 2.0)} if positive else {}}
    if grad is None:
        attrs["differentiable"] = False
        attrs["backward"] = Op.backward         # the declaration's no-gradient default
    return register(type(name.title().replace("_", ""), (_Unary,), attrs), name=name)


_unary("abs", "y = |x|", np.abs, lambda x, y, dy: dy * np.sign(x))
_unary("negative", "y = -x", np.negative, lambda x, y, dy: -dy)
_unary("exp", "y = exp(x)", np.exp, lambda x, y, dy: dy * y)
_unary("log", "y = log(x)", np.log, lambda x, y, dy: dy / x, positive=True)
_unary("sqrt", "y = sqrt(x)", np.sqrt, lambda x, y, dy: dy / (2 * y), positive=True)
_unary("rsqrt", "y = 1/sqrt(x)", lambda x: 1 / np.sqrt(x), lambda x, y, dy: -0.5 * dy * y / x, positive=True)
_unary("square", "y = x**2", np.square, lambda x, y, dy: 2 * dy * x)
_unary("reciprocal", "y = 1/x", np.reciprocal, lambda x, y, dy: -dy * y * y, positive=True)
_unary("log1p", "y = log(1+x)", np.log1p, lambda x, y, dy: dy / (1 + x), positive=True)
_unary("expm1", "y = exp(x)-1", np.expm1, lambda x, y, dy: dy * (y + 1))
_unary("sin", "y = sin(x)", np.sin, lambda x, y, dy: dy * np.cos(x))
_unary("cos", "y = cos(x)", np.cos, lambda x, y, dy: -dy * np.sin(x))
_unary("sign", "y = sign(x)", np.sign, None)
_unary("floor", "y = floor(x)", np.floor, None)
_unary("ceil", "y = ceil(x)", np.ceil, None)
_unary("round", "y = round(x)", np.round, None)


@register
class clip(Op):
    """y = min(max(x, a_min), a_max); the gradient passes where a_min <= x <= a_max (MXNet's
    mask, bounds included).  ``clip(x, 0, 6)`` is MobileNet's relu6."""
    a_min: float = param(doc="lower bound")
    a_max: float = param(doc="upper bound")

    def check(self):
        if self.a_min > self.a_max:
            raise ParamError("a_min (%g) must be <= a_max (%g)" % (self.a_min, self.a_max))

    def forward(self, data, *, train):
        return Result((np.clip(data, self.a_min, self.a_max),), saved=data)

    def backward(self, x, dy):
        return (dy * ((x >= self.a_min) & (x <= self.a_max)),)

    @classmethod
    def examples(cls):
        yield {"a_min": -0.5, "a_max": 0.5}, {"data": (3, 4)}
        yield {"a_min": 0.0, "a_max": 6.0}, {"data": (2, 3, 2, 2)}


# ============================================================ gradient routing

@register
class BlockGrad(Op):
    """y = x; no gradient flows back through it (the input is in ``no_grad_inputs``, so the
    autodiff pass never even visits the node)."""
    aliases = ("stop_gradient",)
    no_grad_inputs = ("data",)

    def forward(self, data, *, train):
        return Result((data,))

    def backward(self, saved, dy):
        return (None,)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3)}


@register(name="_copy")
class Copy(Op):
    """y = x (a new array); gradient dy."""
    aliases = ("identity",)
    hint = "_copy"
    copies = True           # the op graph passes insert to copy an entry (core.cse)

    def forward(self, data, *, train):
        return Result((data.copy(),))

    def backward(self, saved, dy):
        return (dy,)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3)}


@register
class MakeLoss(Op):
    """y = x, treated as a loss: backward ignores head gradients and sends ``grad_scale``,
    divided by the batch size for normalization='batch' or by the number of outputs
    strictly greater than ``valid_thresh`` for 'valid'."""
    head_grad = "ignore"
    grad_scale: float = param(1.0, doc="gradient scale")
    valid_thresh: float = param(0.0, doc="threshold for normalization='valid'")
    normalization: str = param("null", choices=("null", "batch", "valid"))

    def forward(self, data, *, train):
        return Result((data,), saved=data)

    def backward(self, data, dy=None):
        scale = self.grad_scale
        if self.normalization == "batch":
            scale /= data.shape[0]
        elif self.normalization == "valid":
            scale /= max(int(np.count_nonzero(data > self.valid_thresh)), 1)
        return (np.full(data.shape, scale, data.dtype),)

    @classmethod
    def examples(cls):
        yield {"normalization": "valid", "valid_thresh": 0.1}, {"data": (3, 4)}
