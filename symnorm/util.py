"""``mx.util``: MXNet's switch between its two shape conventions.

Legacy semantics (the default): 0 in a shape is an unknown dim and ``()`` an unknown shape.
NumPy semantics (``with mx.np_shape():``): -1 is an unknown dim, ``None`` an unknown shape,
and 0 a zero-size dim.  Both are what ``infer_shape``/``infer_shape_partial`` take and return.
"""
import functools

from .core.shape import is_np_shape, set_np_shape


class np_shape:
    """``with mx.np_shape(active=True):`` NumPy shape semantics inside the block."""

    def __init__(self, active=True):
        self._active, self._prev = bool(active), None

    def __enter__(self):
        self._prev = set_np_shape(self._active)
        return self

    def __exit__(self, *exc):
        set_np_shape(self._prev)


def use_np_shape(func):
    """Decorator: run ``func`` with NumPy shape semantics on."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np_shape(True):
            return func(*args, **kwargs)
    return wrapper


__all__ = ["is_np_shape", "set_np_shape", "np_shape", "use_np_shape"]
