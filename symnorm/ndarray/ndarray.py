"""``mx.nd.ndarray``: the module MXNet defines NDArray in (``from mxnet.ndarray.ndarray
import NDArray``), with the creation functions it also holds."""
from ..core.ndarray import NDArray
from .creation import *  # noqa: F401,F403
from .creation import __all__ as _names
from .io import load, save

__all__ = ["NDArray", "load", "save"] + list(_names)
