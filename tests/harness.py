"""Generic op checks, run over every registered op and every example it declares.

Adding an op with ``examples()`` adds its tests: shape rule vs forward output, dtype
propagation, numeric vs analytic gradient in float64, JSON round trip, lint.
"""
from __future__ import annotations

import numpy as np

import symnorm as sn
from symnorm.registry import REGISTRY
from symnorm.symbol import create
from symnorm.test_utils import check_numeric_gradient, graph_types


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
    # inputs whose dtype the op fixes (batch_take's int32 indices) keep it
    types = dict({k: dtype for k in shapes}, **graph_types(sym, dtype))
    ex = sym.simple_bind(sn.cpu(), grad_req="null", type_dict=types, **shapes)
    for k, v in random_inputs(sym, cls, arg_shapes, rng, dtype).items():
        ex.arg_dict[k][...] = v
    for k in sym.list_auxiliary_states():
        ex.aux_dict[k][...] = rng.uniform(0.5, 1.5, ex.aux_dict[k].shape)
    for is_train in (True, False):
        outs = ex.forward(is_train=is_train)
        assert [o.shape for o in outs] == [tuple(s) for s in out_shapes], \
            "%s: forward shapes %s, inferred %s" % (name, [o.shape for o in outs], out_shapes)
        _, out_types, _ = sym.infer_type(**types)
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


def _var_name(sym, slot):
    names = sym.list_arguments() + sym.list_auxiliary_states()
    return slot if slot in names else "node_" + slot


def _op_and_values(name, params, shapes, rng):
    """(the example's op node, one input value per slot in each slot's valid range)."""
    sym = build(name, params, shapes)
    node = sym.entries[0].node
    op = node.op
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    known = dict(zip(sym.list_arguments(), arg_shapes))
    known.update(zip(sym.list_auxiliary_states(), aux_shapes))
    cls = REGISTRY[name]
    values = []
    for n in op.input_names():
        shape = known[_var_name(sym, n)]
        lo, hi = cls.input_range.get(n, (None, None))
        if n in op.aux:
            values.append(rng.uniform(0.5, 1.5, shape))
        elif lo is not None:
            values.append(rng.uniform(lo, hi, shape))
        else:
            values.append(rng.normal(0, 1, shape))
    return node, values


def _backward(op, res, rng_seed):
    outs = op.output_names()
    rng = np.random.RandomState(rng_seed)
    dys = [rng.normal(0, 1, res[0][j].shape) for j, n in enumerate(outs) if n not in op.no_grad_outputs]
    return op.backward(res[2], *dys)


def _axes(spec, ndim):
    if spec == "all":
        return range(ndim)
    if isinstance(spec, str) and spec.startswith("all-but-"):
        skip = int(spec[len("all-but-"):]) % ndim
        return [i for i in range(ndim) if i != skip]
    return [a % ndim for a in spec]


def check_shape_backward(name, params, shapes):
    """The backward direction of the op's shape rule agrees with the forward one: given the
    true outputs, it never contradicts the true inputs (whatever input dims are hidden), and
    it recovers the dims ``shape_back_axes()`` claims."""
    from symnorm.dims import merge
    from symnorm.shape import shape_entries
    sym = build(name, params, shapes)
    node = sym.entries[0].node
    op = node.op
    state, _, _ = shape_entries(sym, (), shapes)
    ins = [state[(e.node, e.index)] for e in node.inputs]
    outs = [state.get((node, j)) for j in range(len(op.output_names()))]
    slots = op.input_names()
    trials = [(None, ins)] + [(i, ins[:i] + [(None,) * len(ins[i])] + ins[i + 1:])
                              for i in range(len(ins))]
    for hidden_slot, given in trials:
        res = op.infer_shape_backward(tuple(given), tuple(outs))
        if res is None:
            continue
        assert len(res) == len(ins), "%s: backward rule returned %d shapes for %d inputs" \
            % (name, len(res), len(ins))
        for slot, got, truth in zip(slots, res, ins):
            merge(truth, got, "%s backward rule, input %r (hidden: %s)" % (name, slot, hidden_slot))
    for slot, spec in op.shape_back_axes().items():
        i = slots.index(slot)
        axes = list(_axes(spec, len(ins[i])))
        given = list(ins)
        given[i] = tuple(None if k in axes else d for k, d in enumerate(ins[i]))
        res = op.infer_shape_backward(tuple(given), tuple(outs))
        got = None if res is None else res[i]
        assert got is not None and all(got[k] == ins[i][k] for k in axes), \
            "%s: backward rule claims axes %s of %r, got %s for %s" % (name, axes, slot, got, ins[i])
