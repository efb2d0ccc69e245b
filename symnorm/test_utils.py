"""Gradient and forward checkers with MXNet's names and arguments, for users and our tests.

``check_numeric_gradient`` compares the executor's analytic gradients with central finite
differences of ``sum(outputs * random projection)``, in float64 by default.
"""
from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from .core.ndarray import as_ndarray
from .ndarray import array  # noqa: F401  (MXNet's test_utils offers mx.nd.array as ``array``)
from .runtime.executor import cpu
from .util import getenv, setenv, use_np  # noqa: F401  (MXNet's test_utils re-exports them)
from .test_compare import (  # noqa: F401  (part of mx.test_utils)
    default_context, default_dtype, default_numeric_eps, default_rtols,
    default_atols, get_tolerance, get_tols, get_rtol,
    get_atol, almost_equal, same, assert_almost_equal,
    assert_almost_equal_ignore_nan, assert_allclose, assert_exception, random_sample,
    np_reduce)


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


def compare_ndarray_tuple(t1, t2, rtol=None, atol=None):
    """Assert two optimizer states (an array, None, or tuples of them, nested as the
    optimizer keeps them) are close, element by element; None on either side matches."""
    if t1 is None or t2 is None:
        return
    if isinstance(t1, tuple):
        if not isinstance(t2, tuple) or len(t1) != len(t2):
            raise AssertionError("state layouts differ: %s vs %s" % (_layout(t1), _layout(t2)))
        for a, b in zip(t1, t2):
            compare_ndarray_tuple(a, b, rtol, atol)
    else:
        assert_almost_equal(t1, t2, rtol=rtol, atol=atol)


def _layout(state):
    if isinstance(state, tuple):
        return "(" + ", ".join(_layout(s) for s in state) + ")"
    return "None" if state is None else "array%s" % (np.shape(state),)


def _uniform(shape, dtype):
    from .ndarray import random as nd_random
    return nd_random.uniform(shape=shape, dtype=np.dtype(dtype).name)


def compare_optimizer(opt1, opt2, shape, dtype, w_stype="default", g_stype="default",
                      rtol=1e-4, atol=1e-5, compare_states=True, ntensors=1):
    """Check that ``opt2`` steps like ``opt1`` (typically a reference written in Python):
    from the same U[0, 1) weights and gradients of ``shape`` and ``dtype``, both create
    their states (``create_state_multi_precision``) and take one
    ``update_multi_precision`` step; the states (unless ``compare_states=False``) and the
    weights must then agree within ``rtol``/``atol``.  ``shape`` a list of shapes (with
    ``ntensors`` its length): ``opt2`` updates them all in one call (a list of indices),
    ``opt1`` one by one.  Dense storage only (symnorm has no sparse arrays)."""
    for what, stype in (("w_stype", w_stype), ("g_stype", g_stype)):
        if stype != "default":
            raise NotImplementedError("compare_optimizer: %s=%r is sparse storage, which symnorm "
                                      "does not have; use 'default'" % (what, stype))
    if not isinstance(shape, list):
        if ntensors != 1:
            raise ValueError("compare_optimizer: ntensors=%d needs a list of shapes" % ntensors)
        w2, g2 = _uniform(shape, dtype), _uniform(shape, dtype)
        w1, g1 = w2.copy(), g2.copy()
        state1 = opt1.create_state_multi_precision(0, w1)
        state2 = opt2.create_state_multi_precision(0, w2)
        if compare_states:
            compare_ndarray_tuple(state1, state2)
        opt1.update_multi_precision(0, w1, g1, state1)
        opt2.update_multi_precision(0, w2, g2, state2)
        if compare_states:
            compare_ndarray_tuple(state1, state2, rtol=rtol, atol=atol)
        assert_almost_equal(w1, w2, rtol=rtol, atol=atol)
        return
    if ntensors != len(shape):
        raise ValueError("compare_optimizer: ntensors=%d but %d shapes were given"
                         % (ntensors, len(shape)))
    w1 = tuple(_uniform(s, dtype) for s in shape)
    g1 = tuple(_uniform(s, dtype) for s in shape)
    w2, g2 = tuple(w.copy() for w in w1), tuple(g.copy() for g in g1)
    state2 = [opt2.create_state_multi_precision(i, w2[i]) for i in range(ntensors)]
    opt2.update_multi_precision(list(range(ntensors)), w2, g2, state2)
    for i in range(ntensors):
        state1 = opt1.create_state_multi_precision(i, w1[i])
        opt1.update_multi_precision(i, w1[i], g1[i], state1)
        if compare_states:
            compare_ndarray_tuple(state1, state2[i], rtol, atol)
        compare_ndarray_tuple(w1[i], w2[i], rtol, atol)


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


def check_consistency(sym, ctx_list, scale=1.0, grad_req="write", arg_params=None,
                      aux_params=None, rtol=None, atol=None, raise_on_err=True,
                      ground_truth=None, equal_nan=False, use_uniform=False,
                      rand_type=np.float64):
    """Bind ``sym`` (or one symbol per entry) once per ``ctx_list`` entry -- a dict of
    ``simple_bind`` keywords: ``ctx``, input shapes, ``type_dict`` -- on the same random
    inputs (normal with std ``scale``, or uniform in +-0.92*scale), and check that they agree:
    inference outputs, then (unless ``grad_req='null'``) training outputs and gradients with
    the first executor's outputs as head gradients.  The reference is ``ground_truth`` (a
    dict by output/argument name) or the executor with the widest output dtype; each
    comparison uses the tolerances of the narrower dtype.  Returns the reference as a dict
    of numpy arrays (gradients included when computed)."""
    if len(ctx_list) < 2:
        raise ValueError("check_consistency needs at least two entries in ctx_list, got %d"
                         % len(ctx_list))
    syms = list(sym) if isinstance(sym, (list, tuple)) else [sym] * len(ctx_list)
    if len(syms) != len(ctx_list):
        raise ValueError("check_consistency: %d symbols for %d contexts"
                         % (len(syms), len(ctx_list)))
    out_names, arg_names = syms[0].list_outputs(), syms[0].list_arguments()
    for s in syms[1:]:
        if s.list_arguments() != arg_names or s.list_outputs() != out_names:
            raise AssertionError("check_consistency: the symbols differ in arguments or outputs: "
                                 "%s -> %s vs %s -> %s" % (arg_names, out_names,
                                                           s.list_arguments(), s.list_outputs()))
    exes = [s.simple_bind(grad_req=grad_req, **dict(ctx)) for s, ctx in zip(syms, ctx_list)]
    args = dict(arg_params or {})
    for name in sorted(exes[0].arg_dict):
        if name not in args:
            shape = exes[0].arg_dict[name].shape
            args[name] = (np.random.uniform(-0.92 * scale, 0.92 * scale, size=shape) if use_uniform
                          else np.random.normal(scale=scale, size=shape)).astype(rand_type)
    aux = dict(aux_params or {})
    for ex in exes:
        for name, arr in ex.arg_dict.items():
            arr[:] = args[name]
        for name, arr in ex.aux_dict.items():
            arr[:] = aux.get(name, 0)
        for arr in ex.grad_arrays:
            if arr is not None:
                arr[:] = 0
    dtypes = [np.dtype(ex.outputs[0].dtype) for ex in exes]
    ref = int(np.argmax([d.itemsize for d in dtypes]))

    def narrower(a, b):
        return a if np.dtype(a).itemsize < np.dtype(b).itemsize else b

    def compare(stage, i, names, arrays, truth):
        for name, arr in zip(names, arrays):
            want = truth.get(name)
            if want is None and arr is None:
                continue
            try:
                if want is None or arr is None:
                    raise AssertionError("%s: %s is missing on one side" % (stage, name))
                a, b = np.asarray(arr), np.asarray(want)
                r, t = get_tols(a.astype(narrower(a.dtype, dtypes[i])),
                                b.astype(narrower(b.dtype, dtypes[ref])), rtol, atol)
                assert_almost_equal(a, b, rtol=r, atol=t, equal_nan=equal_nan,
                                    names=("ctx %d" % i, "ctx %d" % ref))
            except AssertionError as e:
                msg = "%s error: ctx %d vs ctx %d at %s: %s" % (stage, i, ref, name, e)
                if raise_on_err:
                    raise AssertionError(msg) from None
                print(msg)

    for ex in exes:
        ex.forward(is_train=False)
    truth = dict(ground_truth) if ground_truth is not None else \
        {k: np.array(v) for k, v in zip(out_names, exes[ref].outputs)}
    for i, ex in enumerate(exes):
        if i != ref:
            compare("Predict", i, out_names, ex.outputs, truth)
    if grad_req == "null":
        return truth
    for ex in exes:
        ex.forward(is_train=True)
    # one set of head gradients for all: the first executor's outputs, rounded through the
    # narrowest dtype any executor has for that output (so a float16 run gets the same)
    heads = []
    for k, out in enumerate(exes[0].outputs):
        narrowest = min((np.dtype(ex.outputs[k].dtype) for ex in exes), key=lambda d: d.itemsize)
        heads.append(np.asarray(out).astype(narrowest))
    for ex in exes:
        ex.backward([h.astype(o.dtype) for h, o in zip(heads, ex.outputs)])
    if ground_truth is None:
        truth = {k: np.array(v) for k, v in zip(out_names, exes[ref].outputs)}
        truth.update({k: None if v is None else np.array(v)
                      for k, v in zip(arg_names, exes[ref].grad_arrays)})
    for i, ex in enumerate(exes):
        if i != ref:
            compare("Train", i, out_names + arg_names, list(ex.outputs) + list(ex.grad_arrays),
                    truth)
    return truth
