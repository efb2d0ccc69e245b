"""The executor's step program: named step records, one loop per direction, one error
formatter, and the optional code generation tested against the interpreter."""
import dataclasses

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym
from symnorm.core.symbol import create
from symnorm.registry import REGISTRY
from symnorm.runtime import codegen
from symnorm.runtime.steps import BackwardStep, ForwardStep
from symnorm.test_utils import graph_types

import harness

CASES = harness.cases()


def _bn_fc(rng):
    x = sym.Variable("data")
    h = sym.Activation(sym.BatchNorm(x * 2.0, fix_gamma=False, name="bn"), act_type="relu", name="act")
    net = sym.SoftmaxOutput(sym.FullyConnected(h, num_hidden=3, name="fc"), name="softmax")
    ex = net.simple_bind(sn.cpu(), data=(4, 5))
    for k, a in ex.arg_dict.items():
        a[...] = rng.randint(0, 3, a.shape) if k == "softmax_label" else rng.randn(*a.shape)
    return ex


def test_step_records_are_named(rng):
    ex = _bn_fc(rng)
    fwd, bwd = ex.forward_steps(is_train=True), ex.backward_steps()
    assert [s.node.name for s in fwd] == [n.name for n in ex.plan.op_nodes]
    for steps, cls in ((fwd, ForwardStep), (bwd, BackwardStep)):
        for s in steps:
            assert type(s) is cls and not isinstance(s, tuple)
            assert s.op is s.node.op and ex.plan.op_nodes[s.index] is s.node
            with pytest.raises(dataclasses.FrozenInstanceError):
                s.index = 0
    act = next(s for s in fwd if s.node.name == "act")
    assert act.saves and act.ins == ex.plan.in_slots[act.index]
    assert repr(act) == ("<ForwardStep #%d Activation 'act' [%s kernel]: slots (%d) -> (%d); "
                         "frees (%d); saves, in place>" % (act.index, act.kernel.name, act.ins[0],
                                                           act.outs[0], act.ins[0]))
    assert [s.node.name for s in bwd] == ["softmax", "fc", "act", "bn", "_mulscalar0"]
    assert "BackwardStep" in repr(bwd[0]) and "loss head" in repr(bwd[0])
    assert not any(s.saves for s in ex.forward_steps(is_train=False))


@pytest.mark.parametrize("compiled", [False, True])
def test_one_error_format_for_both_directions_and_both_transforms(rng, monkeypatch, compiled):
    """The interpreter and the generated code report an op's failure alike, forward and
    backward: direction, node, its text line, input shapes; the cause chained."""
    from symnorm.ops.activation import Activation
    fail = {"fwd": False, "bwd": False}
    real_fwd, real_bwd = Activation.forward, Activation.backward

    def forward(self, *args, **kw):
        if fail["fwd"]:
            raise RuntimeError("boom")
        return real_fwd(self, *args, **kw)

    def backward(self, *args, **kw):
        if fail["bwd"]:
            raise RuntimeError("boom")
        return real_bwd(self, *args, **kw)
    monkeypatch.setattr(Activation, "forward", forward)
    monkeypatch.setattr(Activation, "backward", backward)
    # relu's kernel then runs the op's own (failing) forward and backward
    from symnorm.runtime.kernels import elementwise
    monkeypatch.setattr(elementwise, "_INTO", {})
    monkeypatch.setattr(elementwise, "_GRAD_INTO", {})
    ex = _bn_fc(rng)
    ex.forward(is_train=True)
    ex.backward()                      # the first (checked) pass of each direction
    monkeypatch.setattr(codegen, "ENABLED", compiled)
    ex.forward(is_train=True)
    fail["bwd"] = True
    with pytest.raises(sn.OpError) as info:
        ex.backward()
    assert str(info.value) == (
        "backward of Activation 'act' failed: RuntimeError: boom\n"
        "  while executing %act = Activation[act_type=relu](%bn[0])\n"
        "  input shapes: (4, 5)")
    assert isinstance(info.value.__cause__, RuntimeError)
    fail["fwd"] = True
    with pytest.raises(sn.OpError) as info:
        ex.forward(is_train=True)
    assert str(info.value) == (
        "forward of Activation 'act' failed: RuntimeError: boom\n"
        "  while executing %act = Activation[act_type=relu](%bn[0])\n"
        "  input shapes: (4, 5)")
    assert bool(ex._compiled) == compiled


def _graph(name, params, shapes):
    """The example's op with every input made by a ``* 1.0`` node (a dying fresh buffer the
    op may overwrite), all its visible outputs as heads.  An input whose dtype the op forces
    (batch_take's int32 indices) stays a Variable: ``* 1.0`` makes floats."""
    cls = REGISTRY[name]
    forced = graph_types(harness.build(name, params, shapes), np.float32)

    def feed(k):
        return sym.Variable(k) if k in forced else sym.Variable(k) * 1.0
    if cls.variadic:
        return create(name, tuple(feed(k) for k in shapes), dict(params, name="node"))
    inputs = {k: feed(k) for k in shapes}
    return create(name, (), dict(params, name="node", **inputs))


def _pass(ex, heads, aux, train):
    for k, v in aux.items():
        ex.aux_dict[k][...] = v
    for g in ex.grad_dict.values():
        if g is not None:
            g[...] = 7.0
    sn.random.seed(3)                       # Dropout draws the same mask
    outs = [o.copy() for o in ex.forward(is_train=train)]
    staged = {i: [np.array(v) for v in new] for i, new in (ex._staged or {}).items()}
    grads = {}
    if train and ex._on_path:
        ex.backward(heads)
        grads = {k: g.copy() for k, g in ex.grad_dict.items() if g is not None}
    return outs, staged, grads, {k: v.copy() for k, v in ex.aux_dict.items()}


@pytest.mark.parametrize("name,i,params,shapes", CASES, ids=["%s-%d" % c[:2] for c in CASES])
def test_generated_code_equals_the_interpreter(name, i, params, shapes, rng, monkeypatch):
    net = _graph(name, params, shapes)
    arg_shapes, out_shapes, _ = net.infer_shape(**shapes)
    ex = net.simple_bind(sn.cpu(), **shapes)
    for k, v in harness.random_inputs(net, REGISTRY[name], arg_shapes, rng, np.float32).items():
        ex.arg_dict[k][...] = v
    aux = {k: rng.uniform(0.5, 1.5, a.shape) for k, a in ex.aux_dict.items()}
    heads = [rng.randn(*s) for s in out_shapes]
    for train in (True, False):
        _pass(ex, heads, aux, train)          # the first, checked pass of each mode
    results = {}
    for compiled in (False, True):
        monkeypatch.setattr(codegen, "ENABLED", compiled)
        results[compiled] = [_pass(ex, heads, aux, train) for train in (True, False)]
    assert (True, True) in ex._compiled and (False, True) in ex._compiled
    assert ("bwd" in ex._compiled) == bool(ex._on_path)
    for by_interpreter, by_code in zip(results[False], results[True]):
        for a, b in zip(by_interpreter, by_code):
            if isinstance(a, dict):
                assert a.keys() == b.keys()
                a, b = list(a.values()), list(b.values())
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
