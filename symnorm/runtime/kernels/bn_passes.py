"""The BatchNorm training kernel: per-channel statistics and the two elementwise passes,
written for numpy's strengths (docs/facts.md §3).

* The tensor is viewed as rows ``(pre, C·L)`` (pre = axes before the channel axis, L = axes
  after it), and per-channel vectors are expanded to length C·L, so every ufunc loop runs
  over contiguous memory against contiguous memory (no strided broadcasting); with nothing
  before the channel axis (batch-last data) it is ``(C, L)`` against ``(C, 1)`` columns.
* Per-channel sums are ``_np.channel_sum``/``channel_dot``: BLAS matrix-vector products
  with a ones vector, or column reductions when L is small; sums of products without a
  temporary.
* The elementwise passes are cache-blocked (~256 KiB of rows at a time), so the second pass
  over a block reads it from cache, not from memory.

Statistics are one-pass float32 sums (Σx, Σx²), which lose digits when a channel's mean
dwarfs its spread, and overflow when the values are huge; ``well_conditioned`` detects both
per call from the C-sized statistics and the caller then takes the exact shifted path (and,
if its sums overflow too, the float64 path: ``norm.batch_moments``) instead.
"""
from __future__ import annotations

import math

import numpy as np

from .. import parallel


# 256 KiB of float32 per block: the four streams of the gradient pass then fit a 2 MiB L2
# (5-8% faster than 1 MiB blocks on 14x14 and 7x7 maps on the current project machine; the
# earlier one, with 512 KiB of L2 and a small L3, preferred 1 MiB)
BLOCK_ELEMS = 1 << 16
CONDITION = 100.0              # mean² > CONDITION·var: one-pass variance is not trusted


WIDE_ROW = 8192               # rows are grouped up to this length (fewer loop restarts) ...
GROUP_MIN_ROW = 1024          # ... when they hold at least this many elements


def plane(x3: np.ndarray):
    """The 2-D view of ``(pre, C, L)`` that the elementwise passes run on, and a function
    shaping per-channel vectors against it, so every ufunc loop is contiguous:

    * ``(C, L)`` with ``(C, 1)`` columns when nothing precedes the channel axis (batch-last
      data from the layout pass, and NCHW with a batch of one);
    * otherwise rows of r·C·L (r consecutive rows of C·L grouped, r the largest divisor of
      pre keeping a row within WIDE_ROW) with the vectors repeated to that length: numpy
      restarts its inner loop per row, and grouping made BatchNorm f+b on (128, 16, 14, 14)
      11% faster (rows of 6272, not 3136).  Rows under GROUP_MIN_ROW stay as they are: on
      (256, 120) the kernels gained 25% but the step lost 2-3% to the longer vectors."""
    pre, c, post = x3.shape
    if pre == 1:
        return x3.reshape(c, post), (lambda v: v.reshape(c, 1))
    row = c * post
    r = 1 if row < GROUP_MIN_ROW else \
        max((d for d in range(1, min(pre, WIDE_ROW // row) + 1) if pre % d == 0), default=1)
    if r == 1:
        return x3.reshape(pre, row), (lambda v: np.repeat(v, post) if post > 1 else v)

    def per(v):
        out = np.empty((r, c, post), v.dtype)
        out[...] = v.reshape(c, 1)
        return out.reshape(-1)
    return x3.reshape(pre // r, r * row), per


def _part(v: np.ndarray, rows: slice) -> np.ndarray:
    # a (rows, 1) column operand follows the row block; a row operand is shared
    return v[rows] if v.ndim == 2 else v


def _blocks(pre: int, row: int):
    step = max(1, BLOCK_ELEMS // max(row, 1))
    for r in range(0, pre, step):
        yield slice(r, min(pre, r + step))


def affine(x2: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = x·a + b on a ``plane`` view (a, b shaped by it), blocked, in row pieces
    across the pool."""
    parallel.map_slices(lambda r: _affine(x2[r], _part(a, r), _part(b, r), out[r]),
                        x2.shape[0], x2.size)
    return out


def _affine(x2, a, b, out):
    if x2.size <= BLOCK_ELEMS:
        np.multiply(x2, a, out=out)
        out += b
        return out
    for blk in _blocks(*x2.shape):
        o = out[blk]
        np.multiply(x2[blk], _part(a, blk), out=o)
        o += _part(b, blk)
    return out


def scale(x2: np.ndarray, a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = x·a on a ``plane``-shaped view (``a`` a row or a column), in row pieces
    across the pool."""
    parallel.map_slices(lambda r: np.multiply(x2[r], _part(a, r), out=out[r]),
                        x2.shape[0], x2.size)
    return out


def axpby_plus(dy2, k1, x2, k2, k3, out):
    """out = dy·k1 + x·k2 + k3 (the BatchNorm data gradient), blocked; one block-sized
    temporary, reused, so every pass after the first reads from cache; in row pieces
    across the pool."""
    parallel.map_slices(lambda r: _axpby_plus(dy2[r], _part(k1, r), x2[r], _part(k2, r),
                                              _part(k3, r), out[r]), x2.shape[0], x2.size)
    return out


def _axpby_plus(dy2, k1, x2, k2, k3, out):
    if x2.size <= BLOCK_ELEMS:
        np.multiply(dy2, k1, out=out)
        out += x2 * k2
        out += k3
        return out
    blocks = list(_blocks(*x2.shape))
    first = blocks[0]
    tmp = np.empty((first.stop - first.start, x2.shape[1]), out.dtype)
    for blk in blocks:
        o = out[blk]
        t = tmp[:o.shape[0]]
        np.multiply(dy2[blk], _part(k1, blk), out=o)
        np.multiply(x2[blk], _part(k2, blk), out=t)
        o += t
        o += _part(k3, blk)
    return out


def well_conditioned(mean: np.ndarray, var: np.ndarray) -> bool:
    """Every statistic finite and max(mean²) ≤ CONDITION·min(var): a cheap sufficient test
    for every channel (two reductions over C values, ufunc.reduce skipping np.max's
    dispatch, and one dot).  A sum of squares that overflowed (|x| ~ 1e18 in float32) gives
    var = inf, which the conditioning test alone would pass: the dot mean·var is NaN or inf
    then (0·inf is NaN), as for any NaN.  It also overflows for finite statistics near the
    dtype's range (var ~1e25 in float32), which then take the exact path; NaN fails every
    comparison."""
    big = float(np.maximum.reduce(np.abs(mean)))
    return math.isfinite(mean.dot(var)) and \
        big * big <= CONDITION * float(np.minimum.reduce(var)) + 1e-30     # (** would raise)


def all_finite(*arrays) -> bool:
    """Whether every value of these (small) arrays is finite."""
    return all(bool(np.isfinite(a).all()) for a in arrays)
