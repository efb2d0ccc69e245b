"""Activations and softmax: Activation (and the relu/sigmoid/tanh ops MXNet also has),
LeakyReLU, softmax and log_softmax."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import random as _random
from ..core.dims import known, norm_axis, same_shape_backward
from ..core.errors import DTypeError, ShapeError
from ..core.params import param
from ..core.registry import Op, Result, register


# ============================================================ activations

def sigmoid(x):
    """1/(1+exp(-x)), in x's dtype."""
    return 1 / (1 + np.exp(-x))


GRAD_FROM_Y = ("relu", "sigmoid", "tanh")     # gradients that need only the output

_ACTS = {
    # act_type: (forward f(x), gradient from (x, y, dy))
    "relu": (lambda x: np.maximum(x, 0), lambda x, y, dy: dy * (y > 0)),
    "sigmoid": (sigmoid, lambda x, y, dy: dy * (y * (1 - y))),
    "tanh": (np.tanh, lambda x, y, dy: dy * (1 - y * y)),
    "softrelu": (lambda x: np.logaddexp(0, x).astype(x.dtype), lambda x, y, dy: dy * sigmoid(x)),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda x, y, dy: dy / np.square(1 + np.abs(x))),
    "log_sigmoid": (lambda x: -np.logaddexp(0, -x).astype(x.dtype), lambda x, y, dy: dy * sigmoid(-x)),
    "mish": (lambda x: x * np.tanh(np.logaddexp(0, x)).astype(x.dtype),
             lambda x, y, dy: dy * (np.tanh(np.logaddexp(0, x)) + x * sigmoid(x) *
                                    (1 - np.tanh(np.logaddexp(0, x)) ** 2)).astype(x.dtype)),
}


class _Activation(Op):
    """One implementation of each activation, shared by ``Activation(act_type=...)`` and
    MXNet's standalone ``relu``, ``sigmoid`` and ``tanh`` ops (which fix ``act_type``)."""

    def forward(self, data, *, train):
        y = _ACTS[self.act_type][0](data)
        # relu/sigmoid/tanh differentiate from y alone: not keeping x frees its buffer
        return Result((y,), saved=(None if self.act_type in GRAD_FROM_Y else data, y))

    def backward(self, saved, dy):
        x, y = saved
        return (_ACTS[self.act_type][1](x, y, dy),)


@register
class Activation(_Activation):
    """Elementwise activation: relu (gradient 0 at 0), sigmoid, tanh, softrelu
    (log(1+eˣ), gradient sigmoid), softsign (x/(1+|x|), gradient 1/(1+|x|)²), log_sigmoid, mish."""
    color = "#ffffb3"
    act_type: str = param(choices=tuple(_ACTS), doc="activation function")

    def label(self, node_name):
        return "Activation\n%s" % self.act_type

    @classmethod
    def examples(cls):
        for act in _ACTS:
            yield {"act_type": act}, {"data": (3, 4)}
        yield {"act_type": "sigmoid"}, {"data": (2, 3, 2, 2)}


def _fixed(name, doc):
    """MXNet's standalone ``relu``/``sigmoid``/``tanh`` op: Activation's code, act_type fixed."""
    def examples(cls):
        yield {}, {"data": (2, 3)}
        yield {}, {"data": (2, 3, 2)}
    return register(type(name, (_Activation,), {"__doc__": doc, "__module__": __name__,
                                                 "act_type": name,
                                                 "examples": classmethod(examples)}))


_fixed("tanh", "y = tanh(x)")
_fixed("sigmoid", "y = 1/(1+exp(-x))")
_fixed("relu", "y = max(x, 0); the gradient at 0 is 0")


_SELU_ALPHA, _SELU_LAMBDA = 1.6732632423543772, 1.0507009873554805


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _prelu_gamma_view(gshape, dshape):
    """The shape PReLU's gamma broadcasts as against data (MXNet's rule): gamma's dims are
    matched from the right onto data's axes 1 and 0 only (each equal or 1), every other
    axis is 1.  A (C,) gamma is per channel, an (N, C) one per sample and channel."""
    view, s = [1] * len(dshape), len(gshape) - 1
    for i in range(len(dshape) - 1, -1, -1):
        if s >= 0 and i <= 1 and (dshape[i] == gshape[s] or gshape[s] == 1):
            view[i] = gshape[s]
            s -= 1
    if s != -1:
        raise ShapeError("prelu: gamma %s cannot broadcast to data %s (gamma's dims must match "
                         "data's axes 0 and 1, from the right)" % (tuple(gshape), tuple(dshape)))
    return tuple(view)


@register
class LeakyReLU(Op):
    """leaky: x>0 ? x : slope·x;  elu: x>0 ? x : slope·(eˣ-1);  selu: λ·(x>0 ? x : α(eˣ-1));
    gelu: x·Φ(x) (erf form);  prelu: x>0 ? x : gamma[c]·x with a learned per-channel gamma;
    rrelu: random slope in [lower_bound, upper_bound] in training, their mean otherwise.

    PReLU's gamma variable gets ``__init__ = ["Constant", {"value": 0.25}]`` when composed
    (unless it has an ``__init__``), as in MXNet: it starts at 0.25 under any initializer,
    not at the 1 of the ``*_gamma`` name rule (which would make the layer linear)."""
    inputs = ("data", "gamma")
    input_init = {"gamma": '["Constant", {"value": 0.25}]'}
    color = "#ffffb3"
    act_type: str = param("leaky", choices=("leaky", "elu", "selu", "gelu", "prelu", "rrelu"))
    slope: float = param(0.25, doc="slope of leaky/elu")
    lower_bound: float = param(0.125)
    upper_bound: float = param(0.334)

    def arguments(self):
        return self.inputs if self.act_type == "prelu" else ("data",)

    def deterministic(self):
        return self.act_type != "rrelu"     # rrelu draws its slopes in training

    def infer_shape(self, data, gamma=None):
        if data is None:
            return None
        if self.act_type == "prelu":
            if gamma is None:       # a per-channel gamma unless given otherwise
                return (data, (data[1] if len(data) > 1 else 1,)), (data,)
            if known(data) and known(gamma):
                _prelu_gamma_view(gamma, data)      # refuses a gamma that cannot broadcast
            return (data, gamma), (data,)
        return (data,), (data,)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)

    def forward(self, data, gamma=None, *, train):
        x = data
        t = self.act_type
        slope = None
        if t == "leaky":
            y = np.where(x > 0, x, x * self.slope)
        elif t == "elu":
            y = np.where(x > 0, x, self.slope * np.expm1(np.minimum(x, 0)))
        elif t == "selu":
            y = _SELU_LAMBDA * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))
        elif t == "gelu":
            y = 0.5 * x * (1 + _erf(x / np.sqrt(2)))
        elif t == "prelu":
            y = np.where(x > 0, x, x * gamma.reshape(_prelu_gamma_view(gamma.shape, x.shape)))
        else:
            if train:
                slope = _random.generator().uniform(self.lower_bound, self.upper_bound, x.shape).astype(x.dtype)
            else:
                slope = x.dtype.type((self.lower_bound + self.upper_bound) / 2)
            y = np.where(x > 0, x, x * slope)
        return Result((y.astype(x.dtype),), saved=(x, gamma, slope))

    def backward(self, saved, dy):
        x, gamma, slope = saved
        t = self.act_type
        pos = x > 0
        if t == "leaky":
            return (dy * np.where(pos, 1, self.slope).astype(x.dtype),)
        if t == "elu":
            return (dy * np.where(pos, 1, self.slope * np.exp(np.minimum(x, 0))).astype(x.dtype),)
        if t == "selu":
            return (dy * _SELU_LAMBDA * np.where(pos, 1, _SELU_ALPHA * np.exp(np.minimum(x, 0))).astype(x.dtype),)
        if t == "gelu":
            cdf = 0.5 * (1 + _erf(x / np.sqrt(2)))
            pdf = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
            return ((dy * (cdf + x * pdf)).astype(x.dtype),)
        if t == "prelu":
            view = _prelu_gamma_view(gamma.shape, x.shape)
            dx = dy * np.where(pos, 1, gamma.reshape(view))
            dg = dy * np.where(pos, 0, x)
            axes = tuple(i for i, (v, d) in enumerate(zip(view, x.shape)) if v == 1 and d != 1)
            dg = dg.sum(axis=axes, keepdims=True) if axes else dg
            return dx.astype(x.dtype), dg.reshape(gamma.shape).astype(x.dtype)
        return (dy * np.where(pos, 1, slope).astype(x.dtype),)

    def label(self, node_name):
        return "LeakyReLU\n%s" % self.act_type

    @classmethod
    def examples(cls):
        for t in ("leaky", "elu", "selu", "gelu"):
            yield {"act_type": t}, {"data": (3, 4)}
        yield {"act_type": "prelu"}, {"data": (2, 3, 4)}
        yield {"act_type": "elu"}, {"data": (2, 3, 2, 2)}


# ============================================================ softmax family

def _softmax(x, axis, temperature=1.0):
    z = x / temperature if temperature != 1.0 else x
    z = z - z.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


@register
class softmax(Op):
    """y = exp(x/T) / Σ exp(x/T) along ``axis``.  ``use_length``: a second, integer input
    (data's shape without ``axis``) says how many leading entries along ``axis`` take part;
    the rest output 0 and get no gradient.  ``dtype``: the output's (default the input's)."""
    # MXNet's positional order has its optional ``length`` input second (op_args)
    mx_positional = ("data", "length", "axis", "temperature", "dtype", "use_length")
    inputs = ("data", "length")
    no_grad_inputs = ("length",)
    input_range = {"length": (1.0, 2.99)}
    axis: int = param(-1)
    temperature: Optional[float] = param(None, doc="T, default 1")
    dtype: Optional[str] = param(None, choices=("float16", "float32", "float64"),
                                 doc="output dtype; default the input's")
    use_length: bool = param(False, doc="read valid lengths from the second input")

    def arguments(self):
        return self.inputs if self.use_length else ("data",)

    def infer_shape(self, data, length=None):
        if data is None:
            return None
        if not self.use_length:
            return (data,), (data,)
        ax = norm_axis(self.axis, len(data))
        want = tuple(data[:ax]) + tuple(data[ax + 1:])
        if length is not None and known(length) and known(want) and tuple(length) != want:
            raise ShapeError("length must have data's shape without axis %d, %s; got %s"
                             % (self.axis, want, tuple(length)))
        return (data, want), (data,)

    def infer_type(self, data, length=None):
        if data is None:
            return None
        out = np.dtype(self.dtype) if self.dtype else data
        if not self.use_length:
            return (data,), (out,)
        if length is not None and np.dtype(length).kind not in "iu":
            raise DTypeError("length must be an integer array, got %s" % np.dtype(length))
        return (data, length if length is not None else np.dtype(np.int32)), (out,)

    def _out_dtype(self, data):
        return np.dtype(self.dtype) if self.dtype else data.dtype

    def forward(self, data, length=None, *, train):
        t = self.temperature or 1.0
        out = self._out_dtype(data)
        x = data.astype(np.promote_types(data.dtype, out), copy=False)
        if not self.use_length:
            y = _softmax(x, self.axis, t)
        else:
            ax = self.axis % data.ndim
            idx = np.arange(data.shape[ax]).reshape((-1,) + (1,) * (data.ndim - ax - 1))
            valid = idx < np.expand_dims(length, ax)
            z = np.where(valid, x / x.dtype.type(t), -np.inf)
            z = z - np.where(valid, z, x.dtype.type(0)).max(axis=ax, keepdims=True)
            e = np.where(valid, np.exp(np.where(valid, z, 0)), 0)
            total = e.sum(axis=ax, keepdims=True)
            y = e / np.where(total == 0, 1, total)      # a length of 0: a row of zeros
        y = y.astype(out, copy=False)
        return Result((y,), saved=y)

    def backward(self, y, dy):
        # entries outside the valid length have y = 0, so they get 0 and add nothing
        t = self.temperature or 1.0
        g = (dy - (dy * y).sum(axis=self.axis, keepdims=True)) * y / t
        return (g, None) if self.use_length else (g,)

    @classmethod
    def examples(cls):
        yield {"axis": 1}, {"data": (2, 4, 3)}


@register
class log_softmax(Op):
    """y = x/T - log Σ exp(x/T) along ``axis``."""
    axis: int = param(-1)
    temperature: Optional[float] = param(None)

    def forward(self, data, *, train):
        t = self.temperature or 1.0
        z = data / t
        z = z - z.max(axis=self.axis, keepdims=True)
        y = z - np.log(np.exp(z).sum(axis=self.axis, keepdims=True))
        return Result((y,), saved=y)

    def backward(self, y, dy):
        t = self.temperature or 1.0
        return ((dy - np.exp(y) * dy.sum(axis=self.axis, keepdims=True)) / t,)

    @classmethod
    def examples(cls):
        yield {}, {"data": (3, 5)}
