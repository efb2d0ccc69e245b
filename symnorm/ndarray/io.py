"""``mx.nd.save``/``load``: MXNet's ``.params`` files (the format is ``symnorm.interop.nd``'s),
read back as NDArrays."""
from __future__ import annotations

import numpy as np

from ..core.ndarray import NDArray
from ..interop import nd as _files
from ..interop.nd import ParamsFileError, dumps


def _wrap(data):
    if isinstance(data, dict):
        return {k: None if v is None else v.view(NDArray) for k, v in data.items()}
    return [None if v is None else v.view(NDArray) for v in data]


def save(fname: str, data) -> None:
    """Save an NDArray, a list or a dict of them (numpy arrays too) in MXNet's format."""
    _files.save(fname, [data] if isinstance(data, np.ndarray) else data)


def load(fname: str):
    """Read an ``nd.save``/``.params`` file: a dict of NDArrays when it has names, else a list."""
    return _wrap(_files.load(fname))


def loads(buf: bytes, fname: str = "<bytes>"):
    """``load`` from the bytes of a file (``fname`` names it in errors)."""
    return _wrap(_files.loads(buf, fname))


__all__ = ["save", "load", "loads", "dumps", "ParamsFileError"]
