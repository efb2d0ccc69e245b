"""Generic op checks, run over every registered op and every example it declares.

Adding an op with ``examples()`` adds its tests: shape rule vs forward output, dtype
propagation, numeric vs analytic gradient in float64, JSON round trip, lint.
"""
from __future__ import annotations

import numpy as np

import symnorm as sn
from symnorm.registry import REGISTRY
from symnorm.symbol import create
from symnorm.test_utils import check_numeric_gradient


def cases():
    """(op name, example index, params, input shapes) for every op example."""
    out = []
    for name in sorted(REGISTRY):
        for i, (params, shapes) in enumerate(REGISTRY[name].examples()):
            out.append((name, i, params, shapes))
    return out


def build(name, params, shapes):
    """The op applied to Variables named like its input slots (others auto-created)."""
    cls = REGISTRY[name]
    if cls.variadic:
        args = tuple(sn.sym.Variable(k) for k in shapes)
        return create(name, args, dict(params, name="node"))
    inputs = {k: sn.sym.Variable(k) for k in shapes}
    return create(name, (), dict(params, name="node", **inputs))


def random_inputs(sym, cls, arg_shapes, rng, dtype):
    values = {}
    for k, shape in zip(sym.list_arguments(), arg_shapes):
        slot = k[len("node_"):] if k.startswith("node_") else k
        lo, hi = cls.input_range.get(slot, (None, None))
        if lo is None:
            v = rng.normal(0, 1, shape)
        else:
            v = rng.uniform(lo, hi, shape)
        values[k] = v.astype(dtype)
    return values


def check_shape_and_forward(name, params, shapes, rng, dtype=np.float32):
    cls = REGISTRY[name]
    sym = build(name, params, shapes)
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape(**shapes)
    assert arg_shapes is not None, "%s: infer_shape could not decide" % name
    for k, s in shapes.items():
        assert arg_shapes[sym.list_arguments().index(k)] == tuple(s)
    ex = sym.simple_bind(sn.cpu(), grad_req="null", type_dict={k: dtype for k in shapes}, **shapes)
    for k, v in random_inputs(sym, cls, arg_shapes, rng, dtype).items():
        ex.arg_dict[k][...] = v
    for k in sym.list_auxiliary_states():
        ex.aux_dict[k][...] = rng.uniform(0.5, 1.5, ex.aux_dict[k].shape)
    for is_train in (True, False):
        outs = ex.forward(is_train=is_train)
        assert [o.shape for o in outs] == [tuple(s) for s in out_shapes], \
            "%s: forward shapes %s, inferred %s" % (name, [o.shape for o in outs], out_shapes)
        _, out_types, _ = sym.infer_type(**{k: dtype for k in shapes})
        for o, t in zip(outs, out_types):
            assert o.dtype == t, "%s: output dtype %s, inferred %s" % (name, o.dtype, t)
    return sym


def check_gradient(name, params, shapes, rng):
    cls = REGISTRY[name]
    sym = build(name, params, shapes)
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    loc = random_inputs(sym, cls, arg_shapes, rng, np.float64)
    aux = {k: rng.uniform(0.5, 1.5, s) for k, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    blocked = set(cls.no_grad_inputs)
    nodes = [k for k in sym.list_arguments()
             if k[len("node_"):] not in blocked and k not in blocked]
    # fix_gamma ops give gamma no gradient by design: its numeric derivative is 0 as well
    check_numeric_gradient(sym, loc, aux_states=aux, grad_nodes=nodes, numeric_eps=1e-6,
                           rtol=1e-4, atol=1e-6, use_forward_train=True)


def check_json_roundtrip(name, params, shapes):
    sym = build(name, params, shapes)
    text = sym.tojson()
    back = sn.sym.load_json(text)
    assert back.tojson() == text
    assert str(back) == str(sym)
    assert back.list_arguments() == sym.list_arguments()
    assert back.list_auxiliary_states() == sym.list_auxiliary_states()
    assert back.list_outputs() == sym.list_outputs()
    assert back.infer_shape(**shapes) == sym.infer_shape(**shapes)
    sn.graph.lint(back)
