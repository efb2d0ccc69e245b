"""Reused buffers for kernels: ``workspace`` (per-thread scratch arrays by tag) and
``recycled_empty`` (large arrays handed out again once nobody holds them), and
``release_buffers`` giving their memory back."""
from __future__ import annotations

import math
import sys
import threading

import numpy as np

from . import allocator

_WORKSPACE = threading.local()
WORKSPACE_LIMIT = 1 << 30            # bytes kept per thread (least recently used go first)


def workspace(shape, dtype, tag: str = "") -> np.ndarray:
    """A scratch array reused across calls in this thread, for temporaries that die inside
    one op call (inference im2col, pooling's padded input and gradient): a fresh array
    larger than malloc keeps around is mapped anew each time, and on this machine its page
    faults cost more than the arithmetic (max pooling on 32x64x56x56: ~4,000 faults a
    step).  ``tag`` keeps two temporaries of one shape apart.  Never return it or save it
    for backward; its contents are whatever the last user left."""
    key = (tuple(shape), np.dtype(dtype), tag)
    cache = getattr(_WORKSPACE, "arrays", None)
    if cache is None:
        cache = _WORKSPACE.arrays = {}
    buf = cache.pop(key, None)
    if buf is None:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        total = sum(b.nbytes for b in cache.values())
        while cache and total + nbytes > WORKSPACE_LIMIT:     # evict the least recently used
            total -= cache.pop(next(iter(cache))).nbytes
        buf = np.empty(shape, dtype)
    cache[key] = buf                                          # now the most recently used
    return buf


_RECYCLE: dict = {}
_RECYCLE_LOCK = threading.Lock()
RECYCLE_MIN = 32 << 20         # malloc maps anything larger afresh at every allocation
RECYCLE_LIMIT = 1 << 30        # bytes the pool may keep


def _unreferenced_count() -> int:
    # sys.getrefcount of a pooled array nobody else holds, seen from recycled_empty's loop
    probe = [np.empty(1)]
    for buf in probe:
        return sys.getrefcount(buf)


_FREE_REFS = _unreferenced_count()


def recycled_empty(shape, dtype) -> np.ndarray:
    """An uninitialized array for a large value that outlives the op call (Convolution's
    training columns, kept for the weight gradient).  Arrays above malloc's mmap limit
    (32 MiB) come back from the kernel as fresh pages on every allocation, ~5 µs of page
    fault each; this pool hands back an array of the same shape once nothing references it
    any more, so a training loop maps its large buffers once (two per value: the previous
    step's saved state is still alive while the next forward runs)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < RECYCLE_MIN:
        return np.empty(shape, dtype)
    key = (tuple(shape), dtype)
    with _RECYCLE_LOCK:
        for buf in _RECYCLE.get(key, ()):
            if sys.getrefcount(buf) == _FREE_REFS:
                return buf
        if sum(b.nbytes for bufs in _RECYCLE.values() for b in bufs) + nbytes > RECYCLE_LIMIT:
            return np.empty(shape, dtype)
        buf = np.empty(shape, dtype)
        _RECYCLE.setdefault(key, []).append(buf)
        return buf


def release_buffers() -> None:
    """Free the scratch buffers of this thread and the recycled arrays nobody holds (they
    are kept between calls so that large temporaries are not mapped afresh each time), and
    give the memory malloc keeps for reuse back to the kernel (``symnorm.allocator``)."""
    if getattr(_WORKSPACE, "arrays", None):
        _WORKSPACE.arrays.clear()
    with _RECYCLE_LOCK:
        for key in list(_RECYCLE):
            _RECYCLE[key] = [b for b in _RECYCLE[key] if sys.getrefcount(b) > _FREE_REFS]
            if not _RECYCLE[key]:
                del _RECYCLE[key]
    allocator.give_back()


def padded(x: np.ndarray, start: int, before, after, fill=0, tag: str | None = None) -> np.ndarray:
    """``x`` padded with ``fill`` on the axes from ``start``: ``before[i]``/``after[i]``
    elements ahead of/behind axis ``start + i``.  A new array, or with ``tag`` the scratch
    buffer of that tag (``workspace``).  Only the border slabs are filled; the interior is
    one copy (``np.pad`` fills and copies through several temporaries)."""
    shape = list(x.shape)
    for i, (b, a) in enumerate(zip(before, after)):
        shape[start + i] += b + a
    buf = workspace(shape, x.dtype, tag) if tag is not None else np.empty(shape, x.dtype)
    for i, (b, a) in enumerate(zip(before, after)):
        axis = (slice(None),) * (start + i)
        if b:
            buf[axis + (slice(0, b),)] = fill
        if a:
            buf[axis + (slice(shape[start + i] - a, None),)] = fill
    buf[(slice(None),) * start + tuple(slice(b, b + h) for b, h in
                                       zip(before, x.shape[start:start + len(before)]))] = x
    return buf


def workspace_filled(shape, dtype, value, tag: str = "") -> np.ndarray:
    """``workspace`` set to ``value`` everywhere."""
    buf = workspace(shape, dtype, tag)
    buf.fill(value)
    return buf
