"""Initializers with MXNet's names, defaults and dispatch (``mx.init``).

``init(name, array)`` (or ``init(InitDesc(name, attrs), array)``) fills ``array`` in place:
a variable's ``__init__`` attribute wins; otherwise the name decides -- ``*_weight`` gets
the initializer's own rule, ``*_bias``/``*_beta``/``*_moving_mean`` zero,
``*_gamma``/``*_moving_var`` one.  Random draws come from ``symnorm.random``.
"""
from __future__ import annotations

import json
import re

import numpy as np

from .. import random as _random

_REGISTRY: dict = {}


def register(cls):
    """Class decorator: make an initializer creatable by its lower-cased name."""
    _REGISTRY[cls.__name__.lower()] = cls
    return cls


class InitDesc(str):
    """A parameter name carrying its variable's attributes (``__init__`` among them)."""

    def __new__(cls, name, attrs=None, global_init=None):
        obj = super().__new__(cls, name)
        obj.attrs = attrs or {}
        obj.global_init = global_init
        return obj


class Initializer:
    """Base class: dispatch by name; subclasses define ``_init_weight``."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs

    def dumps(self) -> str:
        """``'["xavier", {"magnitude": 2}]'``: the form stored in ``__init__`` attributes."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % kv for kv in self._kwargs.items()))

    def __call__(self, desc, arr: np.ndarray) -> None:
        name = str(desc)
        attrs = getattr(desc, "attrs", {}) or {}
        if attrs.get("__init__"):
            create(attrs["__init__"])._init_weight(name, arr)
            return
        if name.endswith("weight"):
            self._init_weight(name, arr)
        elif name.endswith(("bias", "beta", "moving_mean", "moving_inv_var", "moving_avg", "min")):
            arr[...] = 0
        elif name.endswith(("gamma", "moving_var", "max")):     # *_max: 1, as MXNet 1.9.1
            arr[...] = 1
        else:
            self._init_default(name, arr)

    def _init_weight(self, name, arr):
        raise NotImplementedError("%s does not initialize weights" % type(self).__name__)

    def _init_default(self, name, arr):
        raise ValueError("Unknown initialization pattern for %r: if it is an input (a label, "
                         "say), name it in Module(..., label_names=[%r]) or data_names; if it is "
                         "a parameter, name it *_weight, *_bias, *_gamma or *_beta, give the "
                         "variable an init= attribute, or use init.Mixed" % (name, name))


@register
class Zero(Initializer):
    """All zeros."""
    def _init_weight(self, name, arr):
        arr[...] = 0


@register
class One(Initializer):
    """All ones."""
    def _init_weight(self, name, arr):
        arr[...] = 1


@register
class Constant(Initializer):
    """All ``value``."""
    def __init__(self, value=0.0):
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, name, arr):
        arr[...] = self.value

    def dumps(self) -> str:
        """As the base, with an array ``value`` written as nested lists (MXNet 1.9.1 also
        keeps that list form in ``_kwargs``)."""
        val = self._kwargs["value"]
        if not np.isscalar(val):
            self._kwargs["value"] = np.asarray(val.asnumpy() if hasattr(val, "asnumpy") else val).tolist()
        return super().dumps()


@register
class Uniform(Initializer):
    """U(-scale, scale)."""
    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, name, arr):
        arr[...] = _random.generator().uniform(-self.scale, self.scale, arr.shape)


@register
class Normal(Initializer):
    """N(0, sigma²)."""
    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, name, arr):
        arr[...] = _random.generator().normal(0, self.sigma, arr.shape)


@register
class Xavier(Initializer):
    """scale = sqrt(magnitude / factor) with factor = (fan_in + fan_out)/2 ('avg'), fan_in
    ('in') or fan_out ('out'); fan_in = prod(shape[1:]), fan_out = shape[0]·prod(shape[2:]);
    U(-scale, scale) ('uniform') or N(0, scale²) ('gaussian')."""
    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        if rnd_type not in ("uniform", "gaussian"):
            raise ValueError("Xavier: rnd_type must be 'uniform' or 'gaussian', got %r" % rnd_type)
        if factor_type not in ("avg", "in", "out"):
            raise ValueError("Xavier: factor_type must be 'avg', 'in' or 'out', got %r" % factor_type)
        self.rnd_type, self.factor_type, self.magnitude = rnd_type, factor_type, float(magnitude)

    def _init_weight(self, name, arr):
        shape = arr.shape
        if len(shape) < 2:
            raise ValueError("Xavier initializer cannot be applied to %r of shape %s: it needs "
                             "at least 2 dims" % (name, shape))
        hw = int(np.prod(shape[2:])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[1] * hw, shape[0] * hw
        factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[self.factor_type]
        scale = np.sqrt(self.magnitude / factor)
        rng = _random.generator()
        if self.rnd_type == "uniform":
            arr[...] = rng.uniform(-scale, scale, shape)
        else:
            arr[...] = rng.normal(0, scale, shape)


@register
class MSRAPrelu(Xavier):
    """He initialization for PReLU nets: Gaussian Xavier with magnitude 2/(1+slope²)."""
    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}


@register
class Orthogonal(Initializer):
    """A (scaled) orthogonal matrix from the SVD of a random one (Saxe et al.)."""
    def __init__(self, scale=1.414, rand_type="uniform"):
        super().__init__(scale=scale, rand_type=rand_type)
        self.scale, self.rand_type = scale, rand_type

    def _init_weight(self, name, arr):
        nout, nin = arr.shape[0], int(np.prod(arr.shape[1:]))
        rng = _random.generator()
        tmp = rng.uniform(-1, 1, (nout, nin)) if self.rand_type == "uniform" else rng.normal(0, 1, (nout, nin))
        u, _, v = np.linalg.svd(tmp, full_matrices=False)
        q = u if u.shape == tmp.shape else v
        arr[...] = (self.scale * q).reshape(arr.shape)


@register
class Bilinear(Initializer):
    """Bilinear-interpolation kernels for a (C_out, C_in, kH, kW) upsampling Deconvolution
    (FCN's): w[..., y, x] = (1 - |x/f - c|)·(1 - |y/f - c|), f = ceil(kW/2),
    c = (2f - 1 - f mod 2)/(2f), as MXNet's ``init.Bilinear`` (W-based f for both axes)."""
    def _init_weight(self, name, arr):
        if arr.ndim != 4:
            raise ValueError("Bilinear initializes 4-D deconvolution weights; %r has shape %s"
                             % (name, arr.shape))
        f = np.ceil(arr.shape[3] / 2.0)
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        wx = 1 - np.abs(np.arange(arr.shape[3]) / f - c)
        wy = 1 - np.abs(np.arange(arr.shape[2]) / f - c)
        arr[...] = np.outer(wy, wx)


class Load:
    """Values from a saved parameter dict (``arg:``/``aux:`` prefixes dropped) or a
    ``.params`` file; names it lacks go to ``default_init`` (an error without one).  A shape
    that differs from the target's raises, naming the parameter."""
    def __init__(self, param, default_init=None, verbose=False):
        if isinstance(param, str):
            from ..interop import nd
            param = nd.load(param)
        self.param = {k.split(":", 1)[1] if k.startswith(("arg:", "aux:")) else k: np.asarray(v)
                      for k, v in dict(param).items()}
        self.default_init = create(default_init) if default_init is not None else None
        self.verbose = verbose

    def __call__(self, desc, arr):
        name = str(desc)
        if name in self.param:
            value = self.param[name]
            if value.shape != arr.shape:
                raise ValueError("init.Load: parameter %r has shape %s in the saved values, %s "
                                 "here" % (name, value.shape, arr.shape))
            arr[...] = value
        elif self.default_init is not None:
            self.default_init(desc, arr)
        else:
            raise ValueError("init.Load: %r is not among the saved values and no default_init "
                             "was given" % name)


class Mixed:
    """The first initializer whose regex pattern matches the name: ``Mixed(['bias', '.*'],
    [Zero(), Uniform(0.1)])``."""
    def __init__(self, patterns, initializers):
        if len(patterns) != len(initializers):
            raise ValueError("Mixed: %d patterns for %d initializers" % (len(patterns), len(initializers)))
        self.map = [(re.compile(p), i) for p, i in zip(patterns, initializers)]

    def __call__(self, desc, arr):
        for pattern, init in self.map:
            if pattern.match(str(desc)):
                init(desc, arr)
                return
        raise ValueError("Mixed: no pattern matches %r; add '.*' as a last pattern" % str(desc))


def create(spec) -> Initializer:
    """An initializer from an instance, a name ('xavier') or a dumps() string."""
    if isinstance(spec, (Initializer, Mixed, Load)):
        return spec
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("["):
            name, kwargs = json.loads(text)
        else:
            name, kwargs = text, {}
        cls = _REGISTRY.get(name.lower())
        if cls is None:
            raise ValueError("unknown initializer %r; known: %s" % (name, ", ".join(sorted(_REGISTRY))))
        return cls(**kwargs)
    raise TypeError("cannot make an initializer from %r" % (spec,))


__all__ = ["Initializer", "InitDesc", "Zero", "One", "Constant", "Uniform", "Normal", "Xavier",
           "MSRAPrelu", "Orthogonal", "Bilinear", "Mixed", "Load", "create"]
