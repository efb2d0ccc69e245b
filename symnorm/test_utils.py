"""Gradient and forward checkers with MXNet's names and arguments, for users and our tests.

``check_numeric_gradient`` compares the executor's analytic gradients with central finite
differences of ``sum(outputs * random projection)``, in float64 by default.
"""
from __future__ import annotations

import numpy as np

from .runtime.executor import cpu


def _as_dict(sym, location, names):
    if isinstance(location, dict):
        return {k: np.asarray(v) for k, v in location.items()}
    return {k: np.asarray(v) for k, v in zip(names, location)}


def _bind(sym, location, aux_states, dtype, grad_req="write", grad_nodes=None):
    args = _as_dict(sym, location, sym.list_arguments())
    aux = _as_dict(sym, aux_states or {}, sym.list_auxiliary_states())
    shapes = {k: v.shape for k, v in args.items()}
    types = {k: dtype for k in args}
    if grad_nodes is not None:
        grad_req = {k: ("write" if k in grad_nodes else "null") for k in sym.list_arguments()}
    ex = sym.simple_bind(cpu(), grad_req=grad_req, type_dict=types, **shapes)
    for k, v in args.items():
        ex.arg_dict[k][...] = v
    for k, v in aux.items():
        ex.aux_dict[k][...] = v
    return ex


def check_symbolic_forward(sym, location, expected, rtol=1e-4, atol=None, aux_states=None,
                           ctx=None, equal_nan=False, dtype=np.float32, is_train=False):
    """Assert that the forward outputs of ``sym`` at ``location`` equal ``expected``."""
    ex = _bind(sym, location, aux_states, dtype, grad_req="null")
    outs = ex.forward(is_train=is_train)
    if isinstance(expected, dict):
        expected = [expected[k] for k in sym.list_outputs()]
    for name, got, exp in zip(sym.list_outputs(), outs, expected):
        np.testing.assert_allclose(got, exp, rtol=rtol, atol=1e-20 if atol is None else atol,
                                   equal_nan=equal_nan, err_msg="output %s" % name)
    return outs


def check_symbolic_backward(sym, location, out_grads, expected, rtol=1e-5, atol=None,
                            aux_states=None, grad_req="write", ctx=None, equal_nan=False,
                            dtype=np.float32, is_train=True):
    """Assert that the gradients after forward(is_train)+backward(out_grads) equal ``expected``."""
    ex = _bind(sym, location, aux_states, dtype, grad_req=grad_req)
    ex.forward(is_train=is_train)
    ex.backward(out_grads, is_train=is_train)
    if not isinstance(expected, dict):
        expected = dict(zip(sym.list_arguments(), expected))
    for k, exp in expected.items():
        if exp is None:
            continue
        np.testing.assert_allclose(ex.grad_dict[k], exp, rtol=rtol,
                                   atol=1e-20 if atol is None else atol, equal_nan=equal_nan,
                                   err_msg="gradient of %s" % k)
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


def check_numeric_gradient(sym, location, aux_states=None, numeric_eps=1e-4, rtol=1e-2,
                           atol=None, grad_nodes=None, use_forward_train=True, ctx=None,
                           grad_stype_dict=None, dtype=np.float64):
    """Assert analytic gradients equal central finite differences (MXNet's checker).

    The scalar differentiated is Σ_k Σ outputs[k] · R_k with fixed random R_k, so every
    output element contributes; outputs whose head gradients the op ignores (blocked
    outputs) get none, exactly as the analytic pass does."""
    args = _as_dict(sym, location, sym.list_arguments())
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
        a, n = analytic[k], numeric[k]
        tol = atol if atol is not None else 1e-5 * max(1.0, float(np.abs(n).max(initial=0)))
        if not np.allclose(a, n, rtol=rtol, atol=tol):
            i = np.unravel_index(np.argmax(np.abs(a - n)), a.shape) if a.ndim else ()
            raise AssertionError(
                "numeric gradient check failed for %r: at %s analytic %.6g, numeric %.6g "
                "(max abs diff %.3g, rtol %g, atol %g)"
                % (k, i, a[i], n[i], float(np.abs(a - n).max()), rtol, tol))
    return analytic, numeric
