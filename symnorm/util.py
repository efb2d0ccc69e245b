"""``mx.util``: MXNet's switch between its two shape conventions.

Legacy semantics (the default): 0 in a shape is an unknown dim and ``()`` an unknown shape.
NumPy semantics (``with mx.np_shape():``): -1 is an unknown dim, ``None`` an unknown shape,
and 0 a zero-size dim.  Both are what ``infer_shape``/``infer_shape_partial`` take and return.
"""
import functools
import inspect
import os

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
    """Decorator: run ``func`` with NumPy shape semantics on.  On a class, every method, static
    function and property runs with them (as in MXNet)."""
    if inspect.isclass(func):
        for name, member in list(vars(func).items()):
            if isinstance(member, property):
                setattr(func, name, property(use_np_shape(member.fget) if member.fget else None,
                                             member.fset, member.fdel, member.__doc__))
            elif isinstance(member, (staticmethod, classmethod)):
                setattr(func, name, type(member)(use_np_shape(member.__func__)))
            elif inspect.isfunction(member):
                setattr(func, name, use_np_shape(member))
        return func
    if not callable(func):
        raise TypeError("use_np_shape can only decorate classes and callable objects, "
                        "got %s" % type(func).__name__)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np_shape(True):
            return func(*args, **kwargs)
    return wrapper


def use_np(func):
    """MXNet's ``use_np``: NumPy shape semantics plus NumPy *array* semantics (``mx.np``
    arrays).  symnorm has no ``mx.np`` array type, so only the shape half applies: this is
    ``use_np_shape``."""
    return use_np_shape(func)


def getenv(name):
    """Value of environment variable ``name``, or None (MXNet reads its C runtime's copy;
    symnorm's runtime is this process's ``os.environ``)."""
    return os.environ.get(name)


def setenv(name, value):
    """Set (or with ``value=None`` unset) environment variable ``name``."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = str(value)


__all__ = ["is_np_shape", "set_np_shape", "np_shape", "use_np_shape", "use_np", "getenv", "setenv"]
