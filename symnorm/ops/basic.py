"""Elementwise arithmetic, scalar ops, unary math, gradient routing and shape ops.

Names, auto-name hints and JSON op names follow MXNet 1.9.1 (SPEC §3, §4): ``a + b`` is
``elemwise_add`` named ``_plus<k>``; ``a + 2`` is ``_plus_scalar`` named ``_plusscalar<k>``.
Symbol-symbol ops need identical shapes (no broadcasting: that is ``broadcast_add``).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..core.dims import known, merge, prod
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param
from ..core.registry import Op, Result, register
from ._np import sigmoid, sum_to_shape


# ============================================================ binary, same shape

class _Binary(Op):
    """Two inputs of identical shape, one output of that shape."""
    inputs = ("lhs", "rhs")
    color = "#fccde5"
    fresh_outputs = True
    inplace = True
    batch_last_inputs = ("lhs", "rhs")

    def batch_last(self, ndim):
        return self                     # elementwise: any layout (residual additions)

    def forward(self, lhs, rhs, *, train, out=None):
        # out=None passed explicitly costs a ufunc ~0.5 us of keyword handling: branch
        y = self.fn(lhs, rhs) if out is None else self.fn(lhs, rhs, out=out)
        return Result((y,), None, (lhs, rhs))

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
    inplace = False

    def forward(self, lhs, rhs, *, train):
        return Result((self.fn(lhs, rhs).astype(lhs.dtype),))

    def backward(self, saved, dy):
        return None, None


for _name, _fn in (("_equal", np.equal), ("_not_equal", np.not_equal), ("_greater", np.greater),
                   ("_greater_equal", np.greater_equal), ("_lesser", np.less),
                   ("_lesser_equal", np.less_equal)):
    register(type(_name.title().replace("_", ""), (_Compare,),
                  {"__doc__": "out = (lhs %s rhs) as 0/1" % _name, "fn": staticmethod(_fn),
                   "__module__": __name__}), name=_name)


@register(name="_mod")
class Mod(_Binary):
    """out = lhs mod rhs (numpy's floored modulo); d/dlhs = 1, d/drhs = -floor(lhs/rhs)."""
    fn = staticmethod(np.mod)

    input_range = {"lhs": (2.1, 2.9), "rhs": (3.1, 3.9)}   # away from the jumps

    def backward(self, saved, dy):
        lhs, rhs = saved
        return dy, -dy * np.floor(lhs / rhs)


# ============================================================ broadcasting binary

class _Broadcast(_Binary):
    """numpy broadcasting between lhs and rhs (MXNet's broadcast_* family)."""
    inplace = False          # the output may be larger than lhs

    def forward(self, lhs, rhs, *, train):
        return Result((self.fn(lhs, rhs),), saved=(lhs, rhs))

    def infer_shape(self, lhs, rhs):
        if not known(lhs) or not known(rhs):
            return None
        try:
            out = np.broadcast_shapes(lhs, rhs)
        except ValueError:
            raise ShapeError("operands could not be broadcast together: %s and %s" % (lhs, rhs)) from None
        return (lhs, rhs), (tuple(out),)

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


# ============================================================ with a scalar

class _TypedScalars(dict):
    """dtype -> read-only 0-d array of the scalar.  numpy multiplies by a matching 0-d array
    2x faster than by a Python float (NEP 50 "weak scalar" handling costs ~0.7 us per call),
    and a hit here is one C-level dict lookup."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def __missing__(self, dtype):
        a = np.array(self.value, dtype)
        a.flags.writeable = False
        self[dtype] = a
        return a


class _Scalar(Op):
    """``data (op) scalar``; the scalar is stored as MXNet's string attribute ``scalar``."""
    fresh_outputs = True
    scalar: float = param(1.0, doc="the scalar operand")

    def __post_init__(self):
        object.__setattr__(self, "_s", _TypedScalars(self.scalar))

    @classmethod
    def examples(cls):
        yield {"scalar": 1.5}, {"data": (2, 3)}


class _UfuncScalar(_Scalar):
    """``fn(data, scalar)`` for a numpy ufunc ``fn``: runs in place (also in training: the
    backward needs only the scalar)."""
    inplace = True

    def keeps_output(self):
        return False                    # saves nothing

    def inplace_in_training(self):
        return True

    def forward(self, data, *, train, out=None):
        s = self._s[data.dtype]
        # out=None passed explicitly costs a ufunc ~0.5 us of keyword handling: branch
        return Result((self.fn(data, s) if out is None else self.fn(data, s, out=out),))


@register(name="_plus_scalar")
class PlusScalar(_UfuncScalar):
    """out = data + scalar"""
    hint = "_plusscalar"
    fn = staticmethod(np.add)

    def backward(self, saved, dy):
        return (dy,)


@register(name="_minus_scalar")
class MinusScalar(_UfuncScalar):
    """out = data - scalar"""
    hint = "_minusscalar"
    fn = staticmethod(np.subtract)

    def backward(self, saved, dy):
        return (dy,)


@register(name="_rminus_scalar")
class RMinusScalar(_Scalar):
    """out = scalar - data"""
    hint = "_rminusscalar"

    def forward(self, data, *, train):
        return Result((self._s[data.dtype] - data,))

    def backward(self, saved, dy):
        return (-dy,)


@register(name="_mul_scalar")
class MulScalar(_UfuncScalar):
    """out = data * scalar (also unary minus, with scalar -1.0)"""
    hint = "_mulscalar"
    fn = staticmethod(np.multiply)

    def backward(self, saved, dy):
        return (dy * self._s[dy.dtype],)


@register(name="_div_scalar")
class DivScalar(_UfuncScalar):
    """out = data / scalar"""
    hint = "_divscalar"
    fn = staticmethod(np.divide)

    def backward(self, saved, dy):
        return (dy / self._s[dy.dtype],)


@register(name="_rdiv_scalar")
class RDivScalar(_Scalar):
    """out = scalar / data  (d/dx = -scalar / x² = -out / x)"""
    hint = "_rdivscalar"
    input_range = {"data": (0.5, 2.0)}

    def forward(self, data, *, train):
        y = self._s[data.dtype] / data
        return Result((y,), None, (data, y))

    def backward(self, saved, dy):
        x, y = saved
        return (-dy * y / x,)


@register(name="_power_scalar")
class PowerScalar(_Scalar):
    """out = data ** scalar  (d/dx = scalar · x^(scalar-1))"""
    hint = "_powerscalar"
    input_range = {"data": (0.5, 2.0)}

    def forward(self, data, *, train):
        return Result((np.power(data, self._s[data.dtype]),), None, data)

    def backward(self, x, dy):
        return (dy * self.scalar * np.power(x, self._s[x.dtype] - 1),)


@register(name="_rpower_scalar")
class RPowerScalar(_Scalar):
    """out = scalar ** data  (d/dx = out · log(scalar))"""
    hint = "_rpowerscalar"

    def forward(self, data, *, train):
        y = np.power(self._s[data.dtype], data)
        return Result((y,), None, y)

    def backward(self, y, dy):
        return (dy * y * np.log(self._s[y.dtype]),)


@register(name="_maximum_scalar")
class MaximumScalar(_Scalar):
    """out = max(data, scalar); the gradient passes where data >= scalar"""
    hint = "_maximumscalar"

    def forward(self, data, *, train):
        return Result((np.maximum(data, self._s[data.dtype]),), None, data)

    def backward(self, x, dy):
        return (dy * (x >= self.scalar),)


@register(name="_minimum_scalar")
class MinimumScalar(_Scalar):
    """out = min(data, scalar); the gradient passes where data <= scalar"""
    hint = "_minimumscalar"

    def forward(self, data, *, train):
        return Result((np.minimum(data, self._s[data.dtype]),), None, data)

    def backward(self, x, dy):
        return (dy * (x <= self.scalar),)


@register(name="_mod_scalar")
class ModScalar(_Scalar):
    """out = data mod scalar  (d/dx = 1 between the jumps)"""
    hint = "_modscalar"
    input_range = {"data": (0.1, 1.4)}

    def forward(self, data, *, train):
        return Result((np.mod(data, self._s[data.dtype]),))

    def backward(self, saved, dy):
        return (dy,)


@register(name="_rmod_scalar")
class RModScalar(_Scalar):
    """out = scalar mod data  (d/dx = -floor(scalar / x) between the jumps)"""
    hint = "_rmodscalar"
    input_range = {"data": (3.1, 3.9)}

    def forward(self, data, *, train):
        return Result((np.mod(self._s[data.dtype], data),), None, data)

    def backward(self, x, dy):
        return (-dy * np.floor(self.scalar / x),)


class _CompareScalar(_Scalar):
    """1.0 where ``data (op) scalar`` holds, else 0.0; no gradient."""
    differentiable = False

    def forward(self, data, *, train):
        return Result((self.fn(data, self._s[data.dtype]).astype(data.dtype),))

    def backward(self, saved, dy):
        return (None,)


for _name, _fn in (("_equal_scalar", np.equal), ("_not_equal_scalar", np.not_equal),
                   ("_greater_scalar", np.greater), ("_greater_equal_scalar", np.greater_equal),
                   ("_lesser_scalar", np.less), ("_lesser_equal_scalar", np.less_equal)):
    register(type(_name.title().replace("_", ""), (_CompareScalar,),
                  {"__doc__": "out = (data %s scalar) as 0/1" % _name[1:-7], "fn": staticmethod(_fn),
                   "__module__": __name__}), name=_name)


# ============================================================ unary math

class _Unary(Op):
    """y = f(x), dy/dx from the saved input and output."""
    fresh_outputs = True

    def forward(self, data, *, train):
        y = self.fn(data)
        return Result((y,), saved=(data, y))

    def backward(self, saved, dy):
        return (self.grad(saved[0], saved[1], dy),)

    def batch_last(self, ndim):
        return self                     # elementwise: any layout

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
        attrs["backward"] = lambda self, saved, dy: (None,)
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
_unary("tanh", "y = tanh(x)", np.tanh, lambda x, y, dy: dy * (1 - y * y))
_unary("sigmoid", "y = 1/(1+exp(-x))", sigmoid, lambda x, y, dy: dy * y * (1 - y))
_unary("relu", "y = max(x, 0); the gradient at 0 is 0", lambda x: np.maximum(x, 0),
       lambda x, y, dy: dy * (x > 0))
_unary("sign", "y = sign(x)", np.sign, None)
_unary("floor", "y = floor(x)", np.floor, None)
_unary("ceil", "y = ceil(x)", np.ceil, None)
_unary("round", "y = round(x)", np.round, None)


@register
class clip(Op):
    """y = min(max(x, a_min), a_max); the gradient passes where a_min <= x <= a_max (MXNet's
    mask, bounds included).  ``clip(x, 0, 6)`` is MobileNet's relu6."""
    inplace = True                      # in inference; training keeps x for the mask
    a_min: float = param(doc="lower bound")
    a_max: float = param(doc="upper bound")

    def check(self):
        if self.a_min > self.a_max:
            from ..core.errors import ParamError
            raise ParamError("a_min (%g) must be <= a_max (%g)" % (self.a_min, self.a_max))

    def forward(self, data, *, train, out=None):
        return Result((np.clip(data, self.a_min, self.a_max, out=out),), saved=data)

    def backward(self, x, dy):
        return (dy * ((x >= self.a_min) & (x <= self.a_max)),)

    def batch_last(self, ndim):
        return self                     # elementwise: any layout (MobileNet's relu6)

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


# ============================================================ shape ops

@register
class Flatten(Op):
    """(N, d1, d2, ...) -> (N, d1*d2*...); (N,) -> (N, 1)."""
    aliases = ("flatten",)
    hint = "flatten"
    color = "#fdb462"

    def infer_shape(self, data):
        if data is None:
            return None
        if len(data) == 0:
            raise ShapeError("Flatten needs at least a 1-d input")
        return (data,), ((data[0], prod(data[1:])),)

    def forward(self, data, *, train):
        return Result((data.reshape(data.shape[0], -1),), saved=data.shape)

    def backward(self, shape, dy):
        return (dy.reshape(shape),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3, 4)}


def reshape_rule(dshape, target, reverse):
    """MXNet's Reshape codes: 0 copy, -1 infer, -2 copy rest, -3 merge two, -4 split one."""
    src, tgt = list(dshape), list(target)
    if reverse:
        src.reverse()
        tgt.reverse()
    out, i, j, infer_at = [], 0, 0, None
    while i < len(tgt):
        code = tgt[i]
        if code == 0:
            if j >= len(src):
                raise ShapeError("Reshape code 0 at position %d has no input dim to copy" % i)
            out.append(src[j])
            j += 1
        elif code == -1:
            if infer_at is not None:
                raise ShapeError("Reshape: only one dim can be -1 (inferred)")
            infer_at = len(out)
            out.append(1)
            j += 1
        elif code == -2:
            out.extend(src[j:])
            j = len(src)
        elif code == -3:
            if j + 1 >= len(src):
                raise ShapeError("Reshape code -3 needs two input dims at position %d" % j)
            out.append(src[j] * src[j + 1])
            j += 2
        elif code == -4:
            if i + 2 >= len(tgt) or j >= len(src):
                raise ShapeError("Reshape code -4 must be followed by two dims and split an input dim")
            d0, d1, d2 = src[j], tgt[i + 1], tgt[i + 2]
            j += 1
            i += 2
            if not (d1 == -1 or d1 > 0) or not (d2 == -1 or d2 > 0):
                # MXNet divides by them (and crashes on 0); only sizes or one -1 make sense
                raise ShapeError("Reshape code -4 splits a dim into two sizes (one may be -1), "
                                 "got %d, %d" % (d1, d2))
            if d1 == -1 and d2 == -1:
                raise ShapeError("Reshape: split dims cannot both be -1")
            if d1 == -1:
                d1 = d0 // d2 if d0 % d2 == 0 else -1
            if d2 == -1:
                d2 = d0 // d1 if d0 % d1 == 0 else -1
            if d1 * d2 != d0:
                raise ShapeError("Reshape: split dims %d, %d do not divide input dim %d"
                                 % (tgt[i - 1], tgt[i], d0))
            out.extend([d1, d2])
        elif code > 0:
            out.append(code)
            j += 1
        else:
            raise ShapeError("Reshape: invalid code %d" % code)
        i += 1
    total = prod(dshape)
    if infer_at is not None:
        rest = prod(out)
        if rest == 0 or total % rest:
            # MXNet floors here (24 elements into (5, -1) gives (5, 4)); symnorm refuses
            raise ShapeError("Reshape: cannot infer the -1 dim: %d elements do not divide into "
                             "the other dims (product %d)" % (total, rest))
        out[infer_at] = total // rest
    if reverse:
        out.reverse()
    if prod(out) != total:
        raise ShapeError("Reshape: target %s has %d elements, the input %s has %d"
                         % (tuple(out), prod(out), tuple(dshape), total))
    return tuple(out)


@register
class Reshape(Op):
    """Reshape with MXNet's special codes in ``shape``: 0 copies the input dim, -1 infers
    one dim, -2 copies all remaining dims, -3 merges two dims, -4 a b splits a dim into
    (a, b) (one may be -1).  ``reverse`` matches the codes from the right."""
    aliases = ("reshape",)
    hint = "reshape"
    color = "#fdb462"
    shape: Shape = param((), doc="target shape with special codes")
    reverse: bool = param(False, doc="apply the codes from the right")
    target_shape: Shape = param((), doc="deprecated: use shape")
    keep_highest: bool = param(False, doc="deprecated: use shape")

    def check(self):
        for name in ("shape", "target_shape"):
            bad = [c for c in getattr(self, name) if c < -4]
            if bad:
                raise ParamError("%s code %d is not one of MXNet's (0, -1, -2, -3, -4 or a "
                                 "positive size)" % (name, bad[0]))

    def infer_shape(self, data):
        if not known(data):
            return None
        target = self.shape
        if not target and self.target_shape:
            target = ((data[0],) + tuple(self.target_shape)) if self.keep_highest else self.target_shape
        return (data,), (reshape_rule(data, target, self.reverse),)

    def forward(self, data, *, train):
        (out,) = self.infer_shape(data.shape)[1]
        return Result((data.reshape(out),), saved=data.shape)

    def backward(self, shape, dy):
        return (dy.reshape(shape),)

    @classmethod
    def examples(cls):
        yield {"shape": (0, -1)}, {"data": (2, 3, 4)}
        yield {"shape": (-4, 1, 2, -2)}, {"data": (2, 3, 4)}


@register
class Concat(Op):
    """Join inputs along ``dim``; every other dim must agree.  Backward splits the gradient."""
    aliases = ("concat",)
    hint = "concat"
    variadic = "num_args"
    color = "#fdb462"
    num_args: int = param(doc="number of inputs", check=lambda v: None if v >= 1 else "must be >= 1")
    dim: int = param(1, doc="the axis to join")

    def infer_shape(self, *shapes):
        ref = next((s for s in shapes if s is not None), None)
        if ref is None:
            return None
        nd = len(ref)
        if not -nd <= self.dim < nd:
            raise ShapeError("dim %d out of range for %d-d inputs" % (self.dim, nd))
        d = self.dim % nd
        common = None
        for i, s in enumerate(shapes):
            if s is None:
                continue
            masked = tuple(None if k == d else v for k, v in enumerate(s))
            try:
                common = merge(common, masked)
            except ShapeError:
                raise ShapeError("Incompatible input shape: input %d has shape %s, expected %s off "
                                 "dim %d" % (i, s, tuple("?" if v is None else v for v in common), d)) from None
        if any(s is None for s in shapes):
            return None
        total = sum(s[d] for s in shapes) if all(s[d] is not None for s in shapes) else None
        out = tuple(total if k == d else v for k, v in enumerate(common))
        ins = tuple(tuple(s[k] if k == d else common[k] for k in range(nd)) for s in shapes)
        return ins, (out,)

    def forward(self, *data, train):
        return Result((np.concatenate(data, axis=self.dim),),
                      saved=[a.shape[self.dim] for a in data])

    def backward(self, sizes, dy):
        return tuple(np.split(dy, np.cumsum(sizes)[:-1], axis=self.dim))

    def batch_last_slots(self):
        return self.arguments(), self.outputs

    def batch_last(self, ndim):
        d = self.dim % ndim             # valid: shape inference has checked it
        return dataclasses.replace(self, dim=d - 1 if d else ndim - 1)

    @classmethod
    def examples(cls):
        yield {"num_args": 2, "dim": 1}, {"arg0": (2, 1, 3), "arg1": (2, 2, 3)}
