"""MXNet's older sampling functions at the top of ``mx.nd`` (``random_normal``,
``random_uniform``, ``normal``, ``uniform``, ``random_randint``, ``random_gamma``,
``random_exponential``, ``random_poisson``, ``shuffle``), which the 1.x tutorials still use.

Unlike ``mx.nd.random.*`` they take numbers only (no per-element parameter arrays) and need
``shape``, as MXNet's legacy ``_random_*`` operators do.  Draws come from symnorm's random
stream (``mx.random.seed`` repeats them; the values differ from MXNet's generator)."""
from __future__ import annotations

import numbers

import numpy as np

from ..core.errors import ParamError
from . import random as _random


def _scalars(what, shape, **params):
    for name, value in params.items():
        if isinstance(value, np.ndarray) or not isinstance(value, numbers.Real):
            raise ParamError("%s: %s must be a number, got %s (for one draw per element of an "
                             "array use mx.nd.random.%s)" % (what, name, type(value).__name__,
                                                             what.replace("random_", "")))
    if shape is None or (not isinstance(shape, numbers.Integral) and len(tuple(shape)) == 0):
        raise ParamError("%s: shape is required (the output's shape, e.g. shape=(2, 3))" % what)


def random_uniform(low=0, high=1, shape=None, ctx=None, dtype=None, out=None, **kwargs):
    """Samples from U[low, high): ``out ~ U(low, high)``, float32 unless ``dtype``."""
    _scalars("random_uniform", shape, low=low, high=high)
    return _random.uniform(low, high, shape, dtype, ctx, out)


def random_normal(loc=0, scale=1, shape=None, ctx=None, dtype=None, out=None, **kwargs):
    """Samples from N(loc, scale²): ``out ~ loc + scale·N(0, 1)``, float32 unless ``dtype``."""
    _scalars("random_normal", shape, loc=loc, scale=scale)
    return _random.normal(loc, scale, shape, dtype, ctx, out)


def random_randint(low, high, shape=None, ctx=None, dtype=None, out=None, **kwargs):
    """Integers uniform in [low, high), int32 unless ``dtype``."""
    _scalars("random_randint", shape, low=low, high=high)
    return _random.randint(low, high, shape, dtype, ctx, out)


def random_gamma(alpha=1, beta=1, shape=None, ctx=None, dtype=None, out=None, **kwargs):
    """Samples from Gamma(shape α, scale β): mean ``α·β``."""
    _scalars("random_gamma", shape, alpha=alpha, beta=beta)
    if alpha <= 0 or beta <= 0:
        raise ParamError("random_gamma: alpha and beta must be > 0, got %r, %r" % (alpha, beta))
    return _random._draw("random_gamma", lambda g, a, b, s: g.gamma(a, b, s), alpha, beta,
                         shape, dtype, ctx, out)


def random_exponential(lam=1, shape=None, ctx=None, dtype=None, out=None, **kwargs):
    """Samples from Exp(rate λ): mean ``1/λ``."""
    _scalars("random_exponential", shape, lam=lam)
    if lam <= 0:
        raise ParamError("random_exponential: lam must be > 0, got %r" % (lam,))
    return _random._draw("random_exponential", lambda g, a, b, s: g.exponential(1.0 / a, s),
                         lam, 0, shape, dtype, ctx, out)


def random_poisson(lam=1, shape=None, ctx=None, dtype=None, out=None, **kwargs):
    """Samples from Poisson(λ), as floats (float32 unless ``dtype``), as MXNet gives them."""
    _scalars("random_poisson", shape, lam=lam)
    if lam < 0:
        raise ParamError("random_poisson: lam must be >= 0, got %r" % (lam,))
    return _random._draw("random_poisson", lambda g, a, b, s: g.poisson(a, s), lam, 0,
                         shape, dtype, ctx, out)


uniform, normal = random_uniform, random_normal
shuffle = _random.shuffle

__all__ = ["random_uniform", "random_normal", "random_randint", "random_gamma",
           "random_exponential", "random_poisson", "uniform", "normal", "shuffle"]
