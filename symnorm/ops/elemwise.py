"""Binary elementwise arithmetic and comparison, same-shape and broadcasting.

Names, auto-name hints and JSON op names follow MXNet 1.9.1 (docs/facts.md §1.3):
``a + b`` is ``elemwise_add`` named ``_plus<k>``.  Symbol-symbol ops need identical shapes
(no broadcasting: that is ``broadcast_add``).
"""
from __future__ import annotations

import numpy as np

from ..core.errors import ShapeError, fmt_shape
from ..core.registry import Op, Result, register
from ._util import sum_to_shape


# ============================================================ binary, same shape

class _Binary(Op):
    """Two inputs of identical shape, one output of that shape."""
    inputs = ("lhs", "rhs")
    color = "#fccde5"

    def forward(self, lhs, rhs, *, train):
        return Result((self.fn(lhs, rhs),), None, (lhs, rhs))

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (2, 3), "rhs": (2, 3)}
        yield {}, {"lhs": (2, 3, 2, 2), "rhs": (2, 3, 2, 2)}


@register(name="elemwise_add")
class ElemwiseAdd(_Binary):
    """out = lhs + rhs"""
    aliases = ("_add", "_plus", "_Plus")
    fn = staticmethod(np.add)

    def backward(self, saved, dy):
        return dy, dy


@register(name="elemwise_sub")
class ElemwiseSub(_Binary):
    """out = lhs - rhs"""
    aliases = ("_sub", "_minus", "_Minus")
    fn = staticmethod(np.subtract)

    def backward(self, saved, dy):
        return dy, -dy


@register(name="elemwise_mul")
class ElemwiseMul(_Binary):
    """out = lhs * rhs"""
    aliases = ("_mul", "_Mul")
    fn = staticmethod(np.multiply)

    def backward(self, saved, dy):
        lhs, rhs = saved
        return dy * rhs, dy * lhs


@register(name="elemwise_div")
class ElemwiseDiv(_Binary):
    """out = lhs / rhs"""
    aliases = ("_div", "_Div")
    fn = staticmethod(np.divide)

    def backward(self, saved, dy):
        lhs, rhs = saved
        g = dy / rhs
        return g, -g * lhs / rhs

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (2, 3), "rhs": (2, 3)}


@register(name="_power")
class Power(_Binary):
    """out = lhs ** rhs  (gradients: rhs*lhs**(rhs-1), out*log(lhs))"""
    aliases = ("_Power",)
    fn = staticmethod(np.power)

    input_range = {"lhs": (0.5, 2.0), "rhs": (-1.0, 2.0)}

    def backward(self, saved, dy):
        lhs, rhs = saved
        return dy * rhs * np.power(lhs, rhs - 1), dy * np.power(lhs, rhs) * np.log(lhs)


@register(name="_maximum")
class Maximum(_Binary):
    """out = max(lhs, rhs); the gradient goes to lhs where lhs >= rhs."""
    aliases = ("maximum", "_Maximum")
    fn = staticmethod(np.maximum)

    def backward(self, saved, dy):
        lhs, rhs = saved
        m = lhs >= rhs
        return dy * m, dy * ~m


@register(name="_minimum")
class Minimum(_Binary):
    """out = min(lhs, rhs); the gradient goes to lhs where lhs <= rhs."""
    aliases = ("minimum", "_Minimum")
    fn = staticmethod(np.minimum)

    def backward(self, saved, dy):
        lhs, rhs = saved
        m = lhs <= rhs
        return dy * m, dy * ~m


class _Compare(_Binary):
    """1.0 where the comparison holds, else 0.0; no gradient flows through a comparison."""
    differentiable = False

    def forward(self, lhs, rhs, *, train):
        return Result((self.fn(lhs, rhs).astype(lhs.dtype),))


for _name, _fn in (("_equal", np.equal), ("_not_equal", np.not_equal), ("_greater", np.greater),
                   ("_greater_equal", np.greater_equal), ("_lesser", np.less),
                   ("_lesser_equal", np.less_equal)):
    register(type(_name.title().replace("_", ""), (_Compare,),
                  {"__doc__": "out = (lhs %s rhs) as 0/1" % _name, "fn": staticmethod(_fn),
                   "__module__": __name__}), name=_name)


@register(name="_mod")
class Mod(_Binary):
    """out = lhs mod rhs (numpy's floored modulo); d/dlhs = 1, d/drhs = -floor(lhs/rhs);
    on integer dtypes both gradients are 0 (MXNet: integer mod is all jumps)."""
    fn = staticmethod(np.mod)

    input_range = {"lhs": (2.1, 2.9), "rhs": (3.1, 3.9)}   # away from the jumps

    def backward(self, saved, dy):
        lhs, rhs = saved
        if dy.dtype.kind in "iub":
            return np.zeros_like(lhs), np.zeros_like(rhs)
        return dy, -dy * np.floor(lhs / rhs)


# ============================================================ broadcasting binary

class _Broadcast(_Binary):
    """numpy broadcasting between lhs and rhs (MXNet's broadcast_* family)."""

    def forward(self, lhs, rhs, *, train):
        return Result((self.fn(lhs, rhs),), saved=(lhs, rhs))

    def infer_shape(self, lhs, rhs):
        # dim by dim, right-aligned as numpy: a known dim other than 1 decides the output's
        # (its partner is 1 or equal); a 1 leaves it to the partner
        if lhs is None or rhs is None:
            return None
        n = max(len(lhs), len(rhs))
        a = (1,) * (n - len(lhs)) + tuple(lhs)
        b = (1,) * (n - len(rhs)) + tuple(rhs)
        out = []
        for x, y in zip(a, b):
            if x is not None and y is not None and x != y and 1 not in (x, y):
                raise ShapeError("operands could not be broadcast together: %s and %s"
                                 % (fmt_shape(lhs), fmt_shape(rhs)))
            if x == 1:
                out.append(y)
            elif y == 1:
                out.append(x)
            else:
                out.append(x if x is not None else y)
        return (lhs, rhs), (tuple(out),)

    shape_back = {}      # which dims depends on the shapes (a partner dim of 1 or not)

    def infer_shape_backward(self, ins, outs):
        # an unknown input dim is the output's when its partner's dim is known and differs
        # from the output's (so the partner is the broadcast 1), or when the output's is 1
        out = outs[0]
        if out is None or any(s is None for s in ins):
            return None
        n = len(out)
        if any(len(s) > n for s in ins):
            raise ShapeError("output %s has fewer dims than an input" % fmt_shape(out))
        res = []
        for me, other in ((ins[0], ins[1]), (ins[1], ins[0])):
            k, ko = n - len(me), n - len(other)
            new = list(me)
            for i, d in enumerate(me):
                if d is not None or out[k + i] is None:
                    continue
                o = out[k + i]
                j = k + i - ko
                partner = other[j] if j >= 0 else 1
                if o == 1 or (partner is not None and partner != o):
                    new[i] = o
            res.append(tuple(new))
        return tuple(res)

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (2, 3, 4), "rhs": (1, 3, 1)}


def _bcast_grads(fn):
    def backward(self, saved, dy):
        lhs, rhs = saved
        gl, gr = fn(lhs, rhs, dy)
        return (None if gl is None else sum_to_shape(np.broadcast_to(gl, dy.shape), lhs.shape),
                None if gr is None else sum_to_shape(np.broadcast_to(gr, dy.shape), rhs.shape))
    return backward


@register(name="broadcast_add")
class BroadcastAdd(_Broadcast):
    """out = lhs + rhs with broadcasting"""
    aliases = ("broadcast_plus",)
    fn = staticmethod(np.add)
    backward = _bcast_grads(lambda a, b, dy: (dy, dy))


@register(name="broadcast_sub")
class BroadcastSub(_Broadcast):
    """out = lhs - rhs with broadcasting"""
    aliases = ("broadcast_minus",)
    fn = staticmethod(np.subtract)
    backward = _bcast_grads(lambda a, b, dy: (dy, -dy))


@register(name="broadcast_mul")
class BroadcastMul(_Broadcast):
    """out = lhs * rhs with broadcasting"""
    fn = staticmethod(np.multiply)
    backward = _bcast_grads(lambda a, b, dy: (dy * b, dy * a))


@register(name="broadcast_div")
class BroadcastDiv(_Broadcast):
    """out = lhs / rhs with broadcasting"""
    fn = staticmethod(np.divide)
    backward = _bcast_grads(lambda a, b, dy: (dy / b, -dy * a / (b * b)))


@register(name="broadcast_maximum")
class BroadcastMaximum(_Broadcast):
    """out = max(lhs, rhs) with broadcasting"""
    fn = staticmethod(np.maximum)
    backward = _bcast_grads(lambda a, b, dy: (dy * (a >= b), dy * (a < b)))


@register(name="broadcast_minimum")
class BroadcastMinimum(_Broadcast):
    """out = min(lhs, rhs) with broadcasting"""
    fn = staticmethod(np.minimum)
    backward = _bcast_grads(lambda a, b, dy: (dy * (a <= b), dy * (a > b)))
