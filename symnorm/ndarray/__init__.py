"""``mx.nd`` (also ``mx.ndarray``): the NDArray type, creation functions, every registered op
as a function (``mx.nd.FullyConnected``, ``mx.nd.relu``; see ``ops``), ``random``, and
``save``/``load`` of ``.params`` files.

>>> import symnorm as mx
>>> x = mx.nd.ones((2, 3))
>>> (x * 2 + 1).asnumpy()
array([[3., 3., 3.],
       [3., 3., 3.]], dtype=float32)
>>> float(mx.nd.relu(x - 2).sum().asscalar())
0.0
"""
from ..core.ndarray import NDArray
from . import ops as _ops
from .ops import FUNCTIONS as _FUNCTIONS, ON_NEW as _ON_NEW, contrib

globals().update(_FUNCTIONS)     # before the wrappers below, which take scalars too

from . import random  # noqa: E402
from .creation import *  # noqa: E402,F401,F403
from .creation import __all__ as _creation_names  # noqa: E402
from .random_legacy import *  # noqa: E402,F401,F403
from .random_legacy import __all__ as _legacy_random_names  # noqa: E402
from .io import ParamsFileError, dumps, load, loads, save  # noqa: E402
from . import ndarray  # noqa: E402


def _add_function(cls):
    for public in (cls.op_name,) + tuple(cls.aliases):
        if public not in _creation_names and public not in _legacy_random_names:
            globals()[public] = _FUNCTIONS[public]


_ON_NEW.append(_add_function)

__all__ = (["NDArray", "random", "contrib", "ndarray", "save", "load", "loads", "dumps",
            "ParamsFileError"] + list(_creation_names) + _legacy_random_names + sorted(_FUNCTIONS))
