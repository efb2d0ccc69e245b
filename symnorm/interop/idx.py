"""Reader for IDX files ((Fashion-)MNIST), gzip-compressed or raw, with format checks.

Layout: magic ``00 00 TT NN`` (TT the element type, NN the number of dims), NN big-endian
uint32 dims, then the raw elements in C order.  A wrong magic, a truncated file or trailing
bytes raise ``IDXError`` naming the file and what was expected.
"""
from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

from ..core.errors import SymnormError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXError(SymnormError, ValueError):
    """An IDX file is malformed, truncated, or not of the expected kind."""


def read_idx(path: str, expect_ndim: int | None = None) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` is decompressed)."""
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError("%s: cannot read IDX file (%s)" % (path, exc)) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise IDXError("%s: not an IDX file (magic %s; expected 00 00 <type> <ndim>)"
                       % (path, raw[:4].hex() or "empty"))
    dtype, ndim = np.dtype(_TYPES[raw[2]]), raw[3]
    if expect_ndim is not None and ndim != expect_ndim:
        raise IDXError("%s: expected a %d-d IDX array, the file holds %d-d" % (path, expect_ndim, ndim))
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError("%s: truncated header (%d bytes, need %d)" % (path, len(raw), header))
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    need = header + math.prod(dims) * dtype.itemsize      # Python ints: no int64 wrap
    if len(raw) != need:
        raise IDXError("%s: %s: the dims %s need %d bytes of data, the file has %d"
                       % (path, "truncated" if len(raw) < need else "trailing bytes", dims,
                          need - header, len(raw) - header))
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def find_mnist(data_dir: str, kind: str = "t10k"):
    """(images path, labels path) for ``kind`` ('train' or 't10k') in ``data_dir``, or None."""
    for suffix in (".gz", ""):
        img = os.path.join(data_dir, "%s-images-idx3-ubyte%s" % (kind, suffix))
        lab = os.path.join(data_dir, "%s-labels-idx1-ubyte%s" % (kind, suffix))
        if os.path.exists(img) and os.path.exists(lab):
            return img, lab
    return None


def load_mnist(data_dir: str, kind: str = "t10k", num_parts: int = 1, part_index: int = 0):
    """(images float32 in [0, 1] shaped (N, 1, 28, 28), labels float32) from IDX files;
    with ``num_parts``/``part_index`` only this worker's shard (every ``num_parts``-th
    sample, equal shard sizes), for data-parallel training."""
    paths = find_mnist(data_dir, kind)
    if paths is None:
        raise IDXError("no %s-images-idx3-ubyte[.gz] / %s-labels-idx1-ubyte[.gz] in %s"
                       % (kind, kind, data_dir))
    images = read_idx(paths[0], expect_ndim=3)
    labels = read_idx(paths[1], expect_ndim=1)
    if len(images) != len(labels):
        raise IDXError("%s has %d images but %s has %d labels"
                       % (paths[0], len(images), paths[1], len(labels)))
    if not 0 <= part_index < num_parts:
        raise IDXError("part_index %d not in [0, %d)" % (part_index, num_parts))
    n = len(images) - len(images) % num_parts
    images, labels = images[part_index:n:num_parts], labels[part_index:n:num_parts]
    return (images.astype(np.float32) / 255.0)[:, None], labels.astype(np.float32)
