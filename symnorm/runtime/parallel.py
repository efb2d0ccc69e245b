"""Parallel mode: a second core for the executor's large passes.

numpy's ufunc loops run on the calling thread but release the GIL, so k Python threads
each running 1/k of an elementwise pass, a reduction or a matrix product use k cores.  It
pays only for long passes: waking a sleeping pool worker costs tens of µs on a VM, and on
the project machine (2 vCPUs) the second core adds ~1.3-1.6x to a streaming pass.  So a
plan runs in parallel mode only when it has an array of PLAN_MIN_ELEMS or more
(``worth_splitting``, decided at bind), and then only passes of 2·MIN_ELEMS or more split.
Measured: BatchNorm forward+backward on (32, 64, 56, 56) 1.6x faster; ResNet-18 inference
and training at batch 8 7% faster (im2col, col2im and depthwise convolution split too);
LeNet (arrays of at most 1.2M elements) stays serial, where a split would cost it 15%.

OpenBLAS's own worker threads busy-wait for a long while after every product they share
(measured: > 0.2 s), and a pool thread running meanwhile shares a core with a spinning
worker, which made splits *slower* than none.  So ``region(True)`` (entered by the executor
around forward and backward in parallel mode) sets BLAS to one thread, the large products
inside are split by the pool instead (``matmul``), and BLAS's thread count is restored on
the way out.  Outside the executor, and for serial plans, nothing changes.

``SYMNORM_NUM_THREADS=1`` (or ``set_num_threads(1)``) turns parallel mode off.  Without an
OpenBLAS to steer (numpy built on another BLAS) it is off, since other BLAS workers may spin
the same way.

Every split is fixed by the shapes alone (k contiguous pieces), so results never depend on
timing: an elementwise pass or a row-wise product gives exactly the serial result; a sum
over rows split in pieces adds the pieces' sums (float32 rounding in another order).
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np              # loads OpenBLAS, which _find_openblas then looks for

# each piece at least ~1M elements (~0.5 ms of streaming) or ~64 MFLOP
MIN_ELEMS = 1 << 20
MIN_FLOPS = 1 << 26
PLAN_MIN_ELEMS = 1 << 22      # a plan runs in parallel mode when an array has this many

_BLAS_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_",
                 "scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_")
_BLAS_GETTERS = tuple(s.replace("set_", "get_") for s in _BLAS_SETTERS)


def _find_openblas():
    """(get, set) of the OpenBLAS numpy has loaded, or None (another BLAS, or not Linux)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in zip(_BLAS_SETTERS, _BLAS_GETTERS):
            if hasattr(lib, setter) and hasattr(lib, getter):
                get, set_ = getattr(lib, getter), getattr(lib, setter)
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                return get, set_
    return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                      # not Linux
        return os.cpu_count() or 1


_BLAS = _find_openblas()
_STATE = threading.local()      # .split: inside a splitting region; .inside: running a piece
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_threads = 1


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (the caller's and n-1 pool workers) for the executor's kernels;
    1 turns splitting off and leaves BLAS alone."""
    global _threads, _pool
    n = int(n)
    if n < 1:
        raise ValueError("set_num_threads: expected a positive count, got %d" % n)
    with _lock:
        if _pool is not None and n != _threads:
            _pool.shutdown(wait=True)
            _pool = None
        _threads = n


def num_threads() -> int:
    """The thread count parallel mode uses (``set_num_threads``, ``SYMNORM_NUM_THREADS``)."""
    return _threads


def _default_threads() -> int:
    env = os.environ.get("SYMNORM_NUM_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError("SYMNORM_NUM_THREADS: expected a positive integer, got %r" % env) from None
    return min(_cores(), 8) if _BLAS is not None else 1


set_num_threads(_default_threads())


def _forget_pool_in_child():
    # a forked child has none of the parent's threads: start a new pool when needed, and
    # give BLAS back its thread count if a region was open in some thread at the fork
    global _pool, _lock, _blas_users
    _pool, _lock = None, threading.Lock()
    if _blas_users:
        _BLAS[1](_blas_before)
    _blas_users = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(_threads - 1, thread_name_prefix="symnorm")
    return _pool


def pieces(n: int, work: int, unit: int | None = None) -> int:
    """How many pieces to cut ``n`` items into when together they are ``work`` of work
    (elements, or flops with ``unit=MIN_FLOPS``): at most one per thread, each at least
    ``unit``; 1 when splitting does not pay or we are already inside a piece."""
    if n < 2 or not getattr(_STATE, "split", False) or getattr(_STATE, "inside", False):
        return 1
    return max(1, min(_threads, n, work // (MIN_ELEMS if unit is None else unit)))


def _run_piece(fn, sl):
    _STATE.inside = True
    try:
        return fn(sl)
    finally:
        _STATE.inside = False


def map_slices(fn, n: int, work: int | None = None, unit: int | None = None) -> list:
    """``[fn(slice) for each of k contiguous pieces of range(n)]``, the pieces run at once
    on the caller and k-1 pool workers (k from ``pieces``; ``work`` defaults to n).
    ``fn`` must only write to its own piece (and per-thread scratch, which
    ``_np.workspace`` is)."""
    if not getattr(_STATE, "split", False):        # serial plans: no bookkeeping at all
        return [fn(slice(0, n))]
    k = pieces(n, n if work is None else work, unit)
    if k == 1:
        return [fn(slice(0, n))]
    bounds = [n * i // k for i in range(k + 1)]
    slices = [slice(bounds[i], bounds[i + 1]) for i in range(k)]
    futures = [_get_pool().submit(_run_piece, fn, s) for s in slices[1:]]
    try:
        first = _run_piece(fn, slices[0])
    finally:
        rest = [f.result() for f in futures]       # wait for all, even when one failed
    return [first] + rest


def worth_splitting(largest_elems: int) -> bool:
    """Should a plan whose largest array has this many elements run in parallel mode?
    Only when its big passes are far longer than a worker's wake-up (tens of µs on a VM)
    and than what BLAS loses by running on one thread."""
    return _threads > 1 and _BLAS is not None and largest_elems >= PLAN_MIN_ELEMS


_blas_users = 0                 # threads inside a splitting region (BLAS is on one thread)
_blas_before = None             # BLAS's thread count before the first of them entered


@contextlib.contextmanager
def region(split: bool):
    """Inside: kernels split their large passes across the pool (``split``), with BLAS on
    one thread so that its spinning workers leave the cores to the pool; BLAS's thread
    count is restored when the last thread inside leaves (several threads may run
    executors at once).  Without ``split`` (or nested) nothing changes."""
    global _blas_users, _blas_before
    if not split or _threads <= 1 or _BLAS is None or getattr(_STATE, "split", False):
        yield
        return
    get, set_ = _BLAS
    with _lock:
        if _blas_users == 0:
            _blas_before = get()
            set_(1)
        _blas_users += 1
    _STATE.split = True
    try:
        yield
    finally:
        _STATE.split = False
        with _lock:
            _blas_users -= 1
            if _blas_users == 0:
                set_(_blas_before)


def in_region(method):
    """Decorator for executor entry points: run ``method`` in ``region(self._split)``."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if not self._split:             # a serial plan: region() would change nothing, and
            return method(self, *args, **kwargs)  # entering it costs 3 µs a call
        with region(True):
            return method(self, *args, **kwargs)
    return wrapper


def matmul(a, b, out=None):
    """``a @ b`` for 2-D operands, or stacks of them with the same leading shape, split
    across the pool by rows of ``a`` or columns of ``b`` (whichever is longer) when the
    product is large.  Each piece is an ordinary BLAS call writing its part of ``out``."""
    if not getattr(_STATE, "split", False) or a.ndim < 2 or b.ndim < 2:
        return np.matmul(a, b, out=out)
    m, depth = a.shape[-2], a.shape[-1]
    n = b.shape[-1]
    lead = a.shape[:-2] if a.ndim >= b.ndim else b.shape[:-2]
    flops = 2 * m * n * depth * math.prod(lead)
    if pieces(max(m, n), flops, MIN_FLOPS) == 1:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(lead + (m, n), np.result_type(a, b))
    if m >= n:
        map_slices(lambda r: np.matmul(a[..., r, :], b, out=out[..., r, :]), m, flops, MIN_FLOPS)
    else:
        map_slices(lambda c: np.matmul(a, b[..., :, c], out=out[..., :, c]), n, flops, MIN_FLOPS)
    return out
