"""Gradient and forward checkers with MXNet's names and arguments, for users and our tests.

``check_numeric_gradient`` compares the executor's analytic gradients with central finite
differences of ``sum(outputs * random projection)``, in float64 by default.
"""
from __future__ import annotations

import contextlib
import numbers
import os
import sys

import numpy as np

from .core.ndarray import as_ndarray
from .runtime.executor import cpu


def _as_dict(sym, location, names):
    if isinstance(location, dict):
        return {k: np.asarray(v) for k, v in location.items()}
    return {k: np.asarray(v) for k, v in zip(names, location)}


def _check_dtype(dtype, what):
    # MXNet's checkers take a float dtype for every bound array, or "asnumpy": each array
    # keeps the dtype of the numpy value given for it
    if isinstance(dtype, str) and dtype == "asnumpy":
        return dtype
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        from .core.errors import ParamError
        raise ParamError("%s: dtype must be 'asnumpy', float16, float32 or float64, got %r"
                         % (what, dtype))
    return dt


def graph_types(sym, dtype) -> dict:
    """Arguments the graph refuses in ``dtype`` because it forces another one (batch_take's
    int32 indices), with that dtype: the checkers bind those with it instead.  A dtype the
    graph only defaults to (Embedding's weight: float32) is not forced."""
    from .core.errors import DTypeError
    try:
        arg_types = sym.infer_type_partial()[0] or []
    except DTypeError:              # contradictory on its own: binding will say where
        return {}
    forced = {}
    for k, t in zip(sym.list_arguments(), arg_types):
        if t is not None and np.dtype(t) != np.dtype(dtype):
            try:
                sym.infer_type_partial(**{k: dtype})
            except DTypeError:
                forced[k] = t
    return forced


def _bind(sym, location, aux_states, dtype, grad_req="write", grad_nodes=None):
    args = _as_dict(sym, location, sym.list_arguments())
    aux = _as_dict(sym, aux_states or {}, sym.list_auxiliary_states())
    shapes = {k: v.shape for k, v in args.items()}
    if isinstance(dtype, str):                      # "asnumpy": each value's own dtype
        types = {k: v.dtype for k, v in args.items()}
    else:
        types = dict({k: dtype for k in args}, **graph_types(sym, dtype))
    if grad_nodes is not None:
        grad_req = {k: ("write" if k in grad_nodes else "null") for k in sym.list_arguments()}
    ex = sym.simple_bind(cpu(), grad_req=grad_req, type_dict=types, **shapes)
    for k, v in args.items():
        ex.arg_dict[k][...] = v
    for k, v in aux.items():
        ex.aux_dict[k][...] = v
    return ex


def check_symbolic_forward(sym, location, expected, rtol=None, atol=None, aux_states=None,
                           ctx=None, equal_nan=False, dtype=np.float32, is_train=False):
    """Assert that the forward outputs of ``sym`` at ``location`` equal ``expected``;
    tolerances not given are MXNet's per-dtype defaults (float32: rtol 1e-4, atol 1e-3)."""
    dtype = _check_dtype(dtype, "check_symbolic_forward")
    ex = _bind(sym, location, aux_states, dtype, grad_req="null")
    outs = ex.forward(is_train=is_train)
    if isinstance(expected, dict):
        expected = [expected[k] for k in sym.list_outputs()]
    for name, got, exp in zip(sym.list_outputs(), outs, expected):
        assert_almost_equal(np.asarray(exp), np.asarray(got), rtol, atol,
                            ("EXPECTED_%s" % name, "FORWARD_%s" % name), equal_nan=equal_nan)
    return outs


def check_symbolic_backward(sym, location, out_grads, expected, rtol=None, atol=None,
                            aux_states=None, grad_req="write", ctx=None, grad_stypes=None,
                            equal_nan=False, dtype=np.float32, is_train=True):
    """Assert that the gradients after forward(is_train)+backward(out_grads) equal ``expected``
    (a list in argument order, or a dict; ``None`` entries are not checked).  With
    grad_req 'add' the gradient arrays start from random values, as in MXNet, and what was
    added is compared."""
    dtype = _check_dtype(dtype, "check_symbolic_backward")
    ex = _bind(sym, location, aux_states, dtype, grad_req=grad_req)
    if not isinstance(expected, dict):
        expected = dict(zip(sym.list_arguments(), expected))
    reqs = grad_req if isinstance(grad_req, dict) else \
        dict(zip(sym.list_arguments(), grad_req)) if isinstance(grad_req, (list, tuple)) else \
        {k: grad_req for k in sym.list_arguments()}
    rng = np.random.RandomState(0)
    before = {}
    for k, g in ex.grad_dict.items():
        if g is not None and reqs.get(k) == "add":
            before[k] = rng.normal(size=g.shape).astype(g.dtype)
            g[...] = before[k]
    ex.forward(is_train=is_train)
    if isinstance(out_grads, dict):
        out_grads = [out_grads[k] for k in sym.list_outputs()]
    ex.backward(out_grads, is_train=is_train)
    for k, exp in expected.items():
        if exp is None or reqs.get(k, "write") == "null" or ex.grad_dict.get(k) is None:
            continue                # 'null': no gradient array exists, nothing was written
        got = np.asarray(ex.grad_dict[k])
        if k in before:
            got = got - before[k]
        assert_almost_equal(np.asarray(exp), got, rtol, atol,
                            ("EXPECTED_%s" % k, "BACKWARD_%s" % k), equal_nan=equal_nan)
    return ex.grad_dict


def numeric_grad(ex, names, eps, is_train, proj):
    """Central differences of Σ out·proj with respect to each named argument."""
    def loss():
        outs = ex.forward(is_train=is_train)
        return sum(float(np.sum(o.astype(np.float64) * p)) for o, p in zip(outs, proj))
    grads = {}
    for k in names:
        x = ex.arg_dict[k]
        g = np.zeros(x.shape, np.float64)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads[k] = g
    return grads


def check_numeric_gradient(sym, location, aux_states=None, numeric_eps=None, rtol=None,
                           atol=None, grad_nodes=None, use_forward_train=True, ctx=None,
                           grad_stype_dict=None, dtype=np.float64):
    """Assert analytic gradients equal central finite differences (MXNet's checker).

    The scalar differentiated is Σ_k Σ outputs[k] · R_k with fixed random R_k, so every
    output element contributes; outputs whose head gradients the op ignores (blocked
    outputs) get none, exactly as the analytic pass does.  ``numeric_eps`` defaults to MXNet's
    per-dtype step (float64: 2**-14), ``rtol`` to 1e-2; ``grad_nodes`` is a list of names
    or, as in MXNet, a dict name -> grad_req (only 'write' entries are checked)."""
    dtype = _check_dtype(dtype, "check_numeric_gradient")
    if isinstance(dtype, str):
        dtype = np.dtype(np.float64)
    numeric_eps = default_numeric_eps()[dtype] if numeric_eps is None else numeric_eps
    rtol = 1e-2 if rtol is None else rtol
    args = _as_dict(sym, location, sym.list_arguments())
    if isinstance(grad_nodes, dict):
        grad_nodes = [k for k, req in grad_nodes.items() if req == "write"]
    names = list(grad_nodes) if grad_nodes is not None else list(args)
    ex = _bind(sym, args, aux_states, dtype, grad_nodes=names)
    rng = np.random.RandomState(1234)
    outs = ex.forward(is_train=use_forward_train)
    proj = [rng.normal(0, 1, o.shape) for o in outs]
    # blocked outputs pass no gradient: project them out of the numeric loss too
    blocked = set()
    for k, e in enumerate(sym.entries):
        op = e.node.op
        if op is not None and op.output_names()[e.index] in op.no_grad_outputs:
            blocked.add(k)
    proj = [np.zeros_like(p) if k in blocked else p for k, p in enumerate(proj)]
    aux_before = {k: v.copy() for k, v in ex.aux_dict.items()}
    ex.backward([p.astype(o.dtype) for p, o in zip(proj, outs)], is_train=use_forward_train)
    analytic = {k: ex.grad_dict[k].astype(np.float64).copy() for k in names}
    for k, v in aux_before.items():      # the step's aux commit must not move the numeric loss
        ex.aux_dict[k][...] = v
    numeric = numeric_grad(ex, names, numeric_eps, use_forward_train, proj)
    for k in names:
        a, n = np.asarray(analytic[k]), np.asarray(numeric[k])
        tol = atol if atol is not None else 1e-5 * max(1.0, float(np.abs(n).max(initial=0)))
        if not np.allclose(a, n, rtol=rtol, atol=tol):
            i = np.unravel_index(np.argmax(np.abs(a - n)), a.shape) if a.ndim else ()
            raise AssertionError(
                "numeric gradient check failed for %r: at %s analytic %.6g, numeric %.6g "
                "(max abs diff %.3g, rtol %g, atol %g)"
                % (k, i, a[i], n[i], float(np.abs(a - n).max()), rtol, tol))
    return analytic, numeric


# ============================================================ helpers for users' own tests
# (MXNet 1.9.1's names, signatures and default tolerances)

def default_context():
    """The context tests run in (MXNet: ``current_context()``; for symnorm the CPU)."""
    from symnorm.context import current_context
    return current_context()


def default_dtype():
    """The dtype of ``random_arrays``/``rand_ndarray``: float32."""
    return np.float32


def default_numeric_eps() -> dict:
    """MXNet's finite-difference step per float dtype (powers of two: exact as a delta)."""
    return {np.dtype(np.float16): 1.0 / 2 ** 6, np.dtype(np.float32): 1.0 / 2 ** 9,
            np.dtype(np.float64): 1.0 / 2 ** 14}


def default_rtols() -> dict:
    """MXNet's default relative tolerance per dtype (0 for integers and bool)."""
    out = {np.dtype(t): 0 for t in (np.bool_, np.int8, np.uint8, np.int32, np.uint32,
                                    np.int64, np.uint64)}
    out.update({np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-5})
    return out


def default_atols() -> dict:
    """MXNet's default absolute tolerance per dtype (0 for integers and bool)."""
    out = {k: 0 for k in default_rtols()}
    out.update({np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-20})
    return out


def get_tolerance(dat, tol, default_tol):
    """``tol`` if it is a number, else its (or ``default_tol``'s) entry for ``dat``'s dtype."""
    if isinstance(tol, numbers.Number):
        return tol
    dtype = np.dtype(np.asarray(dat).dtype)
    tol = {} if tol is None else tol
    if dtype not in tol and dtype not in default_tol:
        raise TypeError("no default tolerance for dtype %s: pass rtol/atol" % dtype)
    return tol.get(dtype, default_tol.get(dtype))


def get_tols(x, y, rtol, atol):
    """(rtol, atol) for comparing ``x`` and ``y``: the larger default of their dtypes unless given."""
    x, y = np.asarray(x), np.asarray(y)
    return (max(get_tolerance(x, rtol, default_rtols()), get_tolerance(y, rtol, default_rtols())),
            max(get_tolerance(x, atol, default_atols()), get_tolerance(y, atol, default_atols())))


def get_rtol(rtol=None, dtype=np.dtype(np.float64)):
    """``rtol``, or the default for ``dtype`` (float64's unless given)."""
    return default_rtols()[np.dtype(dtype)] if rtol is None else rtol


def get_atol(atol=None, dtype=np.dtype(np.float64)):
    """``atol``, or the default for ``dtype`` (float64's unless given)."""
    return default_atols()[np.dtype(dtype)] if atol is None else atol


def _check_shapes(a, b):
    if np.shape(a) != np.shape(b):
        raise AssertionError("shape mismatch: %s vs %s" % (np.shape(a), np.shape(b)))


def almost_equal(a, b, rtol=None, atol=None, equal_nan=False, use_broadcast=True):
    """``np.allclose`` with MXNet's float64 defaults (rtol 1e-5, atol 1e-20) when not given."""
    if not use_broadcast:
        _check_shapes(a, b)
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=get_rtol(rtol), atol=get_atol(atol),
                            equal_nan=equal_nan))


def same(a, b):
    """Whether two arrays have the same shape and elements."""
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def assert_almost_equal(a, b, rtol=None, atol=None, names=("a", "b"), equal_nan=False,
                        use_broadcast=True, mismatches=(10, 10)):
    """Raise AssertionError unless ``a`` and ``b`` are close; tolerances default per dtype
    (the larger of the two dtypes': float32 rtol 1e-4, atol 1e-3).  The message gives the
    worst violation's index and values, named by ``names``."""
    if not use_broadcast:
        _check_shapes(a, b)
    rtol, atol = get_tols(a, b, rtol, atol)
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == np.bool_ and b.dtype == np.bool_:
        np.testing.assert_equal(a, b)
        return
    if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan):
        return
    a64, b64 = np.broadcast_arrays(a.astype(np.float64), b.astype(np.float64))
    bad = ~np.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = np.where(a64 == b64, 0, np.abs(a64 - b64)) / (atol + rtol * np.abs(b64) + 1e-20)
    excess = np.where(bad & np.isnan(excess), np.inf, excess)
    i = tuple(int(k) for k in np.unravel_index(int(np.argmax(excess)), excess.shape))
    raise AssertionError(
        "Error %f exceeds tolerance rtol=%e, atol=%e (mismatch %f%%).\n"
        "Location of maximum error: %s, %s=%.8f, %s=%.8f"
        % (float(excess[i]), rtol, atol, 100.0 * bad.sum() / max(bad.size, 1), i,
           names[0], a64[i], names[1], b64[i]))


def assert_almost_equal_ignore_nan(a, b, rtol=None, atol=None, names=("a", "b")):
    """``assert_almost_equal`` with positions that are NaN in either array left out."""
    a, b = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)
    a, b = np.broadcast_arrays(a, b)
    nan = np.isnan(a) | np.isnan(b)
    assert_almost_equal(np.where(nan, 0, a), np.where(nan, 0, b), rtol, atol, names)


def assert_allclose(a, b, rtol=1e-07, atol=0, equal_nan=True):
    """numpy's ``assert_allclose`` on arrays or NDArrays (MXNet's default: NaN == NaN)."""
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol,
                               equal_nan=equal_nan)


def assert_exception(f, exception_type, *args, **kwargs):
    """Assert that ``f(*args, **kwargs)`` raises ``exception_type``."""
    try:
        f(*args, **kwargs)
    except exception_type:
        return
    raise AssertionError("%s did not raise %s" % (getattr(f, "__name__", f),
                                                 getattr(exception_type, "__name__", exception_type)))


def random_sample(population, k):
    """``k`` elements of the list ``population`` in random order (numpy's global generator)."""
    if not 0 <= k <= len(population):
        raise ValueError("random_sample: k=%r must be in [0, %d]" % (k, len(population)))
    pool = list(population)
    np.random.shuffle(pool)
    return pool[:k]


def np_reduce(dat, axis, keepdims, numpy_reduce_func):
    """``numpy_reduce_func`` over ``axis`` (int, sequence or None = all), one axis at a time,
    keeping reduced axes as size 1 when ``keepdims``."""
    axes = [axis] if isinstance(axis, numbers.Integral) else \
        list(range(np.ndim(dat))) if axis is None else list(axis)
    out = np.asarray(dat)
    for i in sorted(axes, reverse=True):
        out = numpy_reduce_func(out, axis=i)
    if keepdims:
        shape = list(np.shape(dat))
        for i in axes:
            shape[i] = 1
        out = np.reshape(out, shape)
    return out


def rand_shape_2d(dim0=10, dim1=10, allow_zero_size=False):
    """A random 2-d shape, each dim in [1, dim] ([0, dim] with ``allow_zero_size``);
    drawn from numpy's global generator, as MXNet's."""
    low = 0 if allow_zero_size else 1
    return np.random.randint(low, dim0 + 1), np.random.randint(low, dim1 + 1)


def rand_shape_3d(dim0=10, dim1=10, dim2=10, allow_zero_size=False):
    """A random 3-d shape (see ``rand_shape_2d``)."""
    low = 0 if allow_zero_size else 1
    return (np.random.randint(low, dim0 + 1), np.random.randint(low, dim1 + 1),
            np.random.randint(low, dim2 + 1))


def rand_shape_nd(num_dim, dim=10, allow_zero_size=False):
    """A random ``num_dim``-d shape, each dim in [1, dim] (see ``rand_shape_2d``)."""
    low = 0 if allow_zero_size else 1
    return tuple(np.random.randint(low, dim + 1, size=num_dim))


def random_arrays(*shapes):
    """Standard-normal float32 arrays of ``shapes`` (one array for one shape)."""
    arrays = [np.array(np.random.randn(), dtype=default_dtype()) if len(s) == 0
              else np.random.randn(*s).astype(default_dtype()) for s in shapes]
    return arrays[0] if len(arrays) == 1 else arrays


def rand_ndarray(shape, stype="default", density=None, dtype=None, modifier_func=None,
                 shuffle_csr_indices=False, distribution=None, ctx=None):
    """A standard-normal NDArray of ``shape`` (``dtype`` default float32).  Dense only:
    symnorm has no sparse storage, so another ``stype`` raises."""
    if stype != "default":
        raise NotImplementedError("rand_ndarray: stype %r is sparse storage, which symnorm "
                                  "does not have; use stype='default'" % (stype,))
    arr = random_arrays(tuple(shape) if not isinstance(shape, int) else (shape,))
    return as_ndarray(np.asarray(arr).astype(dtype or default_dtype(), copy=False))


@contextlib.contextmanager
def discard_stderr():
    """Silence stderr inside the block: file descriptor 2 (what C code writes to) and
    ``sys.stderr``'s own descriptor when it has another one."""
    fds = {2}
    try:
        fds.add(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):   # a capture object without a descriptor
        pass
    sys.stderr.flush()
    with open(os.devnull, "w") as sink:
        saved = {fd: os.dup(fd) for fd in fds}
        try:
            for fd in fds:
                os.dup2(sink.fileno(), fd)
            yield
        finally:
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


@contextlib.contextmanager
def environment(*args):
    """Set environment variables inside the block and restore them after (even on error):
    ``environment(name, value)`` or ``environment({name: value, ...})``; a value of None
    unsets the variable."""
    if len(args) == 1 and isinstance(args[0], dict):
        env = dict(args[0])
    elif len(args) == 2:
        env = {args[0]: args[1]}
    else:
        raise TypeError("environment expects one dict or a name and a value, got %d arguments"
                        % len(args))
    saved = {k: os.environ.get(k) for k in env}

    def apply(values):
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    apply(env)
    try:
        yield
    finally:
        apply(saved)
