"""Numpy kernels shared by the fast kernels: per-channel reductions through BLAS, thin and
wide matrix products cut into pieces for the thread pool, a blocked batch-last transpose,
short-run copies, and cache-blocked multi-pass elementwise functions.

Per-channel sums are the hot loop of every normalization layer.  ``x.sum(axis=(0, 2))`` is
2-6x slower than a matrix-vector product against a ones vector (docs/facts.md §3), and sums
of products are fastest through ``vecdot``/``einsum`` without a temporary.
"""
from __future__ import annotations

import numpy as np

from .. import parallel

_ONES: dict = {}


def ones(n: int, dtype) -> np.ndarray:
    """A cached read-only ones vector (the right operand of BLAS row sums)."""
    key = (n, np.dtype(dtype))
    v = _ONES.get(key)
    if v is None:
        v = np.ones(n, dtype)
        v.flags.writeable = False
        if len(_ONES) > 256:
            _ONES.clear()
        _ONES[key] = v
    return v


SMALL_L = 64                   # below this, column reductions beat row sums through BLAS
SMALL_DOT = 1 << 16            # up to this many elements, sums of products via a temporary


def channel_sum(x3: np.ndarray) -> np.ndarray:
    """Per-channel sum of a ``(pre, C, L)`` array, accumulated in its dtype through BLAS:
    row sums (a matrix-vector product with ones) when L is long, column sums otherwise;
    in row pieces across the pool when large (column sums then add the pieces' sums)."""
    pre, c, post = x3.shape
    if post < SMALL_L:
        x2 = x3.reshape(pre, c * post)
        cols = _over_rows(lambda r: ones(r.stop - r.start, x3.dtype).dot(x2[r]), x2)
        return cols.reshape(c, post).sum(axis=1) if post > 1 else cols
    rows = row_sums(x3.reshape(pre * c, post))
    return rows.reshape(pre, c).sum(axis=0) if pre > 1 else rows


def row_sums(x2: np.ndarray) -> np.ndarray:
    """The sum of each row of a contiguous 2-D array (BLAS against ones, across the pool)."""
    ones_row = ones(x2.shape[1], x2.dtype)
    return _by_rows(lambda r: x2[r] @ ones_row, x2)


def channel_dot(a3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    """Per-channel sum of ``a * b`` without materializing the product."""
    pre, c, post = a3.shape
    if post < SMALL_L:
        a2, b2 = a3.reshape(pre, c * post), b3.reshape(pre, c * post)
        # small inputs: the product's temporary is cheaper than einsum's ~6 µs of setup
        if a2.size <= SMALL_DOT:
            cols = ones(pre, a2.dtype).dot(a2 * b2)
        else:
            cols = _over_rows(lambda r: np.einsum("nk,nk->k", a2[r], b2[r]), a2)
        return cols.reshape(c, post).sum(axis=1) if post > 1 else cols
    a2, b2 = a3.reshape(pre * c, post), b3.reshape(pre * c, post)
    rows = _by_rows(lambda r: _rowdot(a2[r], b2[r]), a2)
    return rows.reshape(pre, c).sum(axis=0) if pre > 1 else rows


def _by_rows(fn, x2: np.ndarray) -> np.ndarray:
    """``fn(all rows)`` (a vector per row), computed in row pieces across the pool."""
    parts = parallel.map_slices(fn, x2.shape[0], x2.size)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _over_rows(fn, x2: np.ndarray) -> np.ndarray:
    """``fn(all rows)`` (a vector per column, summed over rows) as the sum of ``fn`` over
    row pieces computed across the pool (column pieces would be strided, which numpy's dot
    does not hand to BLAS)."""
    parts = parallel.map_slices(fn, x2.shape[0], x2.size)
    return parts[0] if len(parts) == 1 else sum(parts[1:], parts[0])


def _rowdot(a, b):
    # vecdot (numpy >= 2) is 1.3x faster than einsum('ij,ij->i'); numpy 1.x has only einsum
    if hasattr(np, "vecdot"):
        return np.vecdot(a, b)
    return np.einsum("ij,ij->i", a, b)


THIN_OUT = 1024                # a product with at most this many outputs ...
THIN_SIDE = 16                 # ... and one side this small is "thin"
THIN_CHUNK = 512               # the reduction is cut into pieces of this length


def _thin(m: int, n: int, pieces: int) -> bool:
    """Is an (m, n) small operand thin enough, with enough pieces of the long one, for the
    batched product of ``matmul_nt`` / ``matmul_wide`` to beat OpenBLAS's single one?"""
    return m * n <= THIN_OUT and min(m, n) <= THIN_SIDE and pieces >= 8


def matmul_nt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b.T`` for 2-D ``a`` (m, k), ``b`` (n, k).  When the result is thin (m·n small,
    one side tiny) and k is long, as in the weight gradient of a first convolution
    (6 filters x 25 taps over 200K positions), OpenBLAS runs one poorly packed product;
    cutting k into pieces of THIN_CHUNK and summing a batched product is 2-4x faster
    (measured on both dW shapes of LeNet's first layer)."""
    m, k = a.shape
    n = b.shape[0]
    pieces = k // THIN_CHUNK
    if not _thin(m, n, pieces):
        return parallel.matmul(a, b.T)
    body = pieces * THIN_CHUNK
    ap = a[:, :body].reshape(m, pieces, THIN_CHUNK).transpose(1, 0, 2)     # (p, m, c)
    bp = b[:, :body].reshape(n, pieces, THIN_CHUNK).transpose(1, 2, 0)     # (p, c, n)
    parts = parallel.map_slices(lambda r: np.matmul(ap[r], bp[r]).sum(axis=0), pieces,
                                2 * m * n * body, parallel.MIN_FLOPS)
    out = sum(parts[1:], parts[0])
    if body < k:
        out += a[:, body:] @ b[:, body:].T
    return out


WIDE_CHUNK = 1024               # a wide operand is cut into column pieces of this width


def matmul_wide(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for a small 2-D ``a`` (m, k) and a wide contiguous ``b`` (k, n).  When ``a``
    is thin (m·k small, one side tiny), as in a first convolution's forward (6 filters x 25
    taps against 74K columns), one batched product over WIDE_CHUNK-wide column pieces of
    ``b`` is 2.3x faster than OpenBLAS's single product (measured at batch 128 and 256)."""
    m, k = a.shape
    n = b.shape[1]
    pieces = n // WIDE_CHUNK
    if not (_thin(m, k, pieces) and b.flags.c_contiguous):
        return parallel.matmul(a, b, out=out)
    if out is None:
        out = np.empty((m, n), np.result_type(a, b))
    body = pieces * WIDE_CHUNK
    bp = b[:, :body].reshape(k, pieces, WIDE_CHUNK).transpose(1, 0, 2)      # (p, k, c)
    op = out[:, :body].reshape(m, pieces, WIDE_CHUNK).transpose(1, 0, 2)    # (p, m, c)
    parallel.map_slices(lambda r: np.matmul(a, bp[r], out=op[r]), pieces,
                        2 * m * k * body, parallel.MIN_FLOPS)
    if body < n:
        np.matmul(a, b[:, body:], out=out[:, body:])
    return out


MOVE_BLOCK = 1 << 14             # elements per block of last_axis_first's copies


def last_axis_first(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A new C-contiguous copy of ``x`` with its last axis moved to the front ((C, *S, N)
    -> (N, C, *S): batch-last results back to NCHW).  numpy's one strided copy writes each
    output row with reads N elements apart across the whole array; copying blocks of the
    first axis keeps each block's reads in cache: 2-4x faster measured ((64, 56, 56, 32):
    36 -> 9.4 ms; (6, 28, 28, 256): 6.5 -> 2.3 ms), cropped views included.  ``out``: a
    C-contiguous destination of the moved shape."""
    if out is None:
        out = np.empty((x.shape[-1],) + x.shape[:-1], x.dtype)
    if x.ndim < 2 or x.size == 0:
        np.copyto(out, np.moveaxis(x, -1, 0))
        return out
    step = max(1, MOVE_BLOCK // max(1, x.size // x.shape[0]))
    for c0 in range(0, x.shape[0], step):
        np.copyto(out[:, c0:c0 + step], np.moveaxis(x[c0:c0 + step], -1, 0))
    return out


RUN_BYTES = 32                  # copies whose contiguous runs are this short or shorter ...
RUN_MIN_ELEMS = 1 << 14         # ... and that are this large


def copy_runs(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[...] = src`` for arrays of one shape and dtype.  When both keep their last axis
    contiguous and it is short (a batch of 2-8 float32 at the end of a batch-last view with
    a stride), each run is copied as one opaque item: numpy's strided copy then moves one
    8-32 byte item per step instead of 2-8 floats (1.5-4.6x faster measured)."""
    run = dst.shape[-1] * dst.itemsize if dst.ndim else 0
    # (small copies skip it: making the two views costs ~4 µs)
    if (dst.ndim and dst.shape[-1] > 1 and run <= RUN_BYTES and dst.size >= RUN_MIN_ELEMS
            and dst.dtype == src.dtype and dst.strides[-1] == src.strides[-1] == dst.itemsize):
        item = np.dtype((np.void, run))
        np.copyto(dst.view(item)[..., 0], src.view(item)[..., 0])
    else:
        dst[...] = src


CACHE_BLOCK = 1 << 16          # elements per block of a multi-pass elementwise function


def elementwise(fn, out: np.ndarray, *ins: np.ndarray, blocked: bool = False) -> np.ndarray:
    """``fn(out, *ins)`` for an elementwise ``fn``, run in flat pieces across the pool when
    every array is C-contiguous and of one shape (else as one call).  With ``blocked``,
    each piece runs in blocks of CACHE_BLOCK elements, so that ``fn``'s second and later
    passes read the block from cache (for cheap passes; 25-30% faster for the three passes
    of the sigmoid gradient on 0.4M-1.2M elements, and nothing gained where ``exp``'s
    arithmetic dominates).  Returns ``out``."""
    arrays = (out,) + ins
    if all(a.flags.c_contiguous and a.shape == out.shape for a in arrays):
        flat = [a.reshape(-1) for a in arrays]
        piece = _in_blocks(fn) if blocked and out.size > CACHE_BLOCK else fn
        parallel.map_slices(lambda r: piece(*(a[r] for a in flat)), out.size)
    else:
        fn(out, *ins)
    return out


def _in_blocks(fn):
    def run(*flat):
        n = flat[0].size
        for i in range(0, n, CACHE_BLOCK):
            j = min(n, i + CACHE_BLOCK)
            fn(*(a[i:j] for a in flat))
    return run


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1/(1+exp(-x)) in four in-place passes over one buffer (``out``, which may be ``x``):
    2.5x faster than the textbook expression (docs/facts.md §3); in pieces across the pool."""
    return elementwise(_sigmoid, np.empty(np.shape(x), x.dtype) if out is None else out, x)


def _sigmoid(out, x):
    y = np.negative(x, out=out)
    np.exp(y, out=y)
    y += 1
    np.reciprocal(y, out=y)
    return y
