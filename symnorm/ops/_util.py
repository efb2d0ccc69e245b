"""Plain numpy helpers the op declarations share: channel views, broadcast-gradient
reduction, the compute dtype."""
from __future__ import annotations

import math

import numpy as np


def channel_view(x: np.ndarray, axis: int) -> np.ndarray:
    """View ``x`` as ``(pre, C, post)`` around ``axis`` (a copy only if ``x`` is not contiguous)."""
    # math.prod, not np.prod: ~10 us less per call on a tuple, on a hot path
    pre = math.prod(x.shape[:axis])
    post = math.prod(x.shape[axis + 1:])
    return x.reshape(pre, x.shape[axis], post)


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Reduce a broadcast gradient back to ``shape`` (numpy broadcasting rules)."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and g.shape[i + lead] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


def compute_dtype(dt) -> np.dtype:
    """float16 is computed in float32 (as MXNet's CPU kernels do)."""
    dt = np.dtype(dt)
    return np.dtype(np.float32) if dt == np.float16 else dt
