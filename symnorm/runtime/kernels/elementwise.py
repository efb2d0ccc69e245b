"""Kernels of the elementwise ops: in-place forwards, blocked multi-pass activations, and
the layout freedom of everything elementwise (any storage order gives the same result, so
these kernels run inside batch-last regions: residual additions, relu6, ELU...).

Their numbers are the references' (the same ufuncs in the same order); what they add is
writing output 0 into a dying input 0 (``ctx.inplace``) and, for sigmoid/tanh, doing the
several passes of a formula over one buffer in cache-sized blocks across the pool.
"""
from __future__ import annotations

import numpy as np

from ...core.registry import Result
from ...ops.activation import GRAD_FROM_Y, LeakyReLU, _Activation
from ...ops.elemwise import _Binary, _Broadcast
from ...ops.scalar import _Scalar, _UfuncScalar
from ...ops.unary import _Unary, clip
from .blas import elementwise, sigmoid
from .registry import kernel


def _own_forward(base):
    """``when``: the op runs ``base``'s forward (a subclass with its own forward is not
    covered by a kernel written for ``base``'s)."""
    return lambda op: type(op).forward is base.forward


# ============================================================ activations

_INTO = {   # act_type: f(x, out) computing into out (a new array, or x itself)
    "relu": lambda x, out: np.maximum(x, 0, out=out),
    "sigmoid": sigmoid,
    "tanh": lambda x, out: np.tanh(x, out=out),
}


def _sigmoid_grad_into(g, y, dy):
    np.subtract(1, y, out=g)
    g *= y
    g *= dy


def _tanh_grad_into(g, y, dy):
    np.multiply(y, y, out=g)
    np.subtract(1, g, out=g)
    g *= dy


_GRAD_INTO = {"sigmoid": _sigmoid_grad_into, "tanh": _tanh_grad_into}


@kernel(_Activation, layout="any", writes_into_input=True, fresh_outputs=True,
        inplace_in_training=lambda op: op.act_type in GRAD_FROM_Y)
def activation(op, ctx, data, *, train):
    """relu/sigmoid/tanh into ``data`` itself when allowed (their backward needs y only,
    so also in training); sigmoid in four in-place passes (2.5x the textbook expression)."""
    into = _INTO.get(op.act_type)
    if into is None:
        return op.forward(data, train=train)
    y = into(data, data if ctx.inplace else np.empty(data.shape, data.dtype))
    return Result((y,), saved=(None, y))


@activation.backward
def activation_backward(op, ctx, saved, dy):
    """sigmoid's dy·y·(1-y) and tanh's dy·(1-y²) in three passes over one new array,
    blocked (not three temporaries)."""
    into = _GRAD_INTO.get(op.act_type)
    if into is None:
        return op.backward(saved, dy)
    y = saved[1]
    return (elementwise(into, np.empty(y.shape, y.dtype), y, dy, blocked=True),)


# elementwise except prelu (gamma per channel) and rrelu (random slopes: another layout
# would draw them in another order)
kernel(LeakyReLU, name="elementwise", layout="any",
       when=lambda op: op.act_type not in ("prelu", "rrelu"))(None)


# ============================================================ binary

kernel(_Binary, name="elementwise", layout="any", fresh_outputs=True,
       layout_slots=lambda op: (("lhs", "rhs"), ("output",)))(None)


def _binary_step(op, ctx):
    fn = op.fn
    if ctx.inplace:
        return lambda lhs, rhs, *, train: ((fn(lhs, rhs, out=lhs),), None, (lhs, rhs))
    return lambda lhs, rhs, *, train: ((fn(lhs, rhs),), None, (lhs, rhs))


@kernel(_Binary, layout="any", writes_into_input=True, fresh_outputs=True,
        layout_slots=lambda op: (("lhs", "rhs"), ("output",)), specialize=_binary_step,
        when=lambda op: _own_forward(_Binary)(op) and not isinstance(op, _Broadcast))
def binary_in_place(op, ctx, lhs, rhs, *, train):
    """``lhs (op) rhs`` into ``lhs`` when allowed (inference: backward keeps both inputs)."""
    return _binary_step(op, ctx)(lhs, rhs, train=train)


# ============================================================ with a scalar

kernel(_Scalar, name="fresh", fresh_outputs=True)(None)


def _scalar_step(op, ctx):
    fn, scalars = op.fn, op._s           # the scalar as a 0-d array per dtype (_TypedScalars)
    if ctx.inplace:
        return lambda data, *, train: ((fn(data, scalars[data.dtype], out=data),), None, None)
    return lambda data, *, train: ((fn(data, scalars[data.dtype]),), None, None)


@kernel(_UfuncScalar, writes_into_input=True, inplace_in_training=True, fresh_outputs=True,
        keeps_output=False, when=_own_forward(_UfuncScalar), specialize=_scalar_step)
def scalar_in_place(op, ctx, data, *, train):
    """``data (op) scalar`` into ``data`` when allowed, in training too (the backward
    needs only the scalar)."""
    return _scalar_step(op, ctx)(data, train=train)


# ============================================================ one input

kernel(_Unary, name="elementwise", layout="any", fresh_outputs=True)(None)


@kernel(clip, layout="any", writes_into_input=True)
def clip_in_place(op, ctx, data, *, train):
    """MobileNet's relu6 into ``data`` in inference (training keeps x for the mask)."""
    return Result((np.clip(data, op.a_min, op.a_max, out=data if ctx.inplace else None),),
                  saved=data)
