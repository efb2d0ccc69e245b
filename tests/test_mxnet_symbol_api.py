"""Symbol-API surface MXNet 1.9.1's own unit tests use (test_symbol.py, test_infer_shape.py,
test_executor.py): test_utils helpers, the shape ops, ``sym._internal``, the ``is_np_shape``
JSON flag.  MXNet's answers: fixtures/symbol_api_mxnet (generator next to it)."""
import importlib.util
import json
import os

import numpy as np
import pytest

import symnorm as mx
from symnorm import test_utils

_HERE = os.path.join(os.path.dirname(__file__), "fixtures", "symbol_api_mxnet")
FIX = json.load(open(os.path.join(_HERE, "symbol_api_mxnet.json")))
# the graphs the MXNet generator built, built here alike
_spec = importlib.util.spec_from_file_location("symbol_api_graphs", os.path.join(_HERE, "graphs.py"))
graphs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(graphs)


def _shapes(t):
    return [None if s is None else tuple(s) for s in t]


def _run(sym, grad=True, **arrays):
    ex = sym.simple_bind(mx.cpu(), grad_req="write" if grad else "null",
                         **{k: v.shape for k, v in arrays.items()})
    for k, v in arrays.items():
        ex.arg_dict[k][:] = v
    outs = ex.forward(is_train=True)
    res = {"outputs": [o.asnumpy().tolist() for o in outs],
           "dtypes": [np.dtype(o.dtype).name for o in outs]}
    if grad:
        ex.backward([np.ones(o.shape, o.dtype) * 2 for o in outs])
        res["grads"] = {k: v.asnumpy().tolist() for k, v in ex.grad_dict.items()}
    return res


# ------------------------------------------------------------ test_utils helpers

def test_test_utils_has_mxnets_reexports():
    from symnorm.test_utils import getenv, setenv, use_np  # noqa: F401 (the import is the test)
    setenv("SYMNORM_TEST_MXA", "1")
    assert getenv("SYMNORM_TEST_MXA") == "1"
    setenv("SYMNORM_TEST_MXA", None)
    assert getenv("SYMNORM_TEST_MXA") is None


def test_use_np_scopes_functions_and_classes():
    @test_utils.use_np
    def inside():
        return mx.is_np_shape()

    @mx.util.use_np_shape
    class Box:
        def method(self):
            return mx.is_np_shape()

        @staticmethod
        def static():
            return mx.is_np_shape()

        @property
        def prop(self):
            return mx.is_np_shape()

    assert not mx.is_np_shape()
    assert inside() and Box().method() and Box.static() and Box().prop
    assert not mx.is_np_shape()
    with pytest.raises(TypeError):
        mx.util.use_np_shape(3)


def test_check_consistency_agrees_and_disagrees():
    x = mx.sym.var("data")
    ctx = {"ctx": mx.cpu(), "data": (3, 4)}
    truth = test_utils.check_consistency([x.abs(name="a"), mx.sym.abs(x, name="a")],
                                         ctx_list=[ctx, ctx])
    assert sorted(truth) == ["a_output", "data"]        # outputs and gradients
    # float64 reference vs float32: tolerances of the narrower dtype
    test_utils.check_consistency(mx.sym.exp(x), [
        {"ctx": mx.cpu(), "data": (2, 3), "type_dict": {"data": np.float64}},
        {"ctx": mx.cpu(), "data": (2, 3), "type_dict": {"data": np.float32}}])
    # float16 against float64: one set of head gradients, rounded through float16
    fc = mx.sym.FullyConnected(x, num_hidden=4, name="fc")
    truth = test_utils.check_consistency(fc, [
        {"ctx": mx.cpu(), "data": (3, 5), "type_dict": {"data": np.float64}},
        {"ctx": mx.cpu(), "data": (3, 5), "type_dict": {"data": np.float16}}])
    assert truth["fc_weight"].dtype == np.float64 and truth["fc_weight"].shape == (4, 5)
    with pytest.raises(AssertionError, match="Predict"):
        test_utils.check_consistency([mx.sym.abs(x, name="a"), mx.sym.negative(x, name="a")],
                                     ctx_list=[ctx, ctx])
    with pytest.raises(AssertionError, match="Train"):
        # same outputs, different gradients: sign(x)*x == abs(x) but BlockGrad stops one
        test_utils.check_consistency(
            [mx.sym.abs(x, name="a"), mx.sym.abs(mx.sym.BlockGrad(x), name="a")],
            ctx_list=[ctx, ctx])
    test_utils.check_consistency([mx.sym.abs(x, name="a"), mx.sym.abs(mx.sym.BlockGrad(x),
                                                                      name="a")],
                                 ctx_list=[ctx, ctx], grad_req="null")


# ------------------------------------------------------------ the shape ops

@pytest.mark.parametrize("name", ["shape_array", "size_array"])
def test_shape_and_size_array_match_mxnet(name):
    want = FIX[name]
    s = getattr(mx.sym, name)(mx.sym.var("x"))
    assert [np.dtype(t).name for t in s.infer_type(x="float32")[1]] == want["types"]
    assert s.infer_shape(x=(2, 3, 4))[1] == _shapes(want["shape"])
    assert s.infer_shape_partial(x=(0, 3))[1] == _shapes(want["partial"])
    assert _run(s, grad=False, x=np.zeros((2, 3, 4), np.float32)) == want["run"]
    assert getattr(mx.sym.var("x"), name)(name="n").infer_shape(x=(2, 3, 4))[1] == \
        _shapes(want["shape"])                           # the fluent method too


def test_broadcast_axes_matches_mxnet():
    want = FIX["broadcast_axes"]
    x = mx.sym.var("x")
    b = mx.sym.broadcast_axes(x, axis=(0, 2), size=(3, 4))
    assert b.infer_shape(x=(1, 2, 1))[1] == _shapes(want["shape"])
    assert _run(b, x=np.arange(2, dtype=np.float32).reshape(1, 2, 1)) == want["run"]
    assert mx.sym.broadcast_axis(x, axis=1, size=2).tojson() == want["json"]
    assert x.broadcast_axes(axis=1, size=2).infer_shape(x=(3, 1))[1] == [(3, 2)]
    with pytest.raises(mx.base.MXNetError, match="size 1"):
        b.infer_shape(x=(2, 2, 1))
    with pytest.raises(mx.base.MXNetError, match="same length"):
        mx.sym.broadcast_axis(x, axis=(0, 1), size=(2,))


def test_identity_with_attr_like_rhs_matches_mxnet():
    want = FIX["identity_like_rhs"]
    x, y = mx.sym.var("x"), mx.sym.var("y")
    i = mx.sym._internal._identity_with_attr_like_rhs(x, y)
    assert i.tojson() == want["json"]
    assert _run(i, x=np.arange(6, dtype=np.float32).reshape(2, 3),
                y=np.ones((2, 3), np.float32)) == want["run"]
    got = i.infer_shape_partial(y=(2, 3))
    assert [list(map(list, g)) for g in got] == want["partial_from_rhs"]
    # MXNet's test_backward_infer: the constraint carries weight's shape backwards
    w, wshift = mx.sym.var("weight"), mx.sym.var("wshift", shape=(1,))
    wt = mx.sym._internal._identity_with_attr_like_rhs(mx.sym.broadcast_add(w, wshift), w)
    net = mx.sym.FullyConnected(data=mx.sym.var("data"), weight=wt, num_hidden=11, no_bias=True)
    got = dict(zip(net.list_arguments(), net.infer_shape(data=(7, 100))[0]))
    assert got == {k: tuple(v) for k, v in FIX["backward_infer"].items()}
    assert mx.sym._internal._plus is not None     # every "_" op is there, as in MXNet


# ------------------------------------------------------------ is_np_shape in JSON

def test_np_shape_json_flag_and_legacy_conversion():
    want = FIX["np_shape"]
    with mx.np_shape(True):
        assert mx.sym.var("z").tojson() == want["var_json"]
        loaded = mx.sym.load_json(want["legacy"])
        assert loaded.attr_dict() == want["converted_attrs"]
        assert loaded.tojson() == want["converted_json"]
        got = loaded.infer_shape_partial()
        assert [[None if s is None else list(s) for s in g] for g in got] == want["partial"]
        np_json = mx.sym.var("z", shape=(2, 0)).tojson()
        # a graph saved under NumPy semantics is read as it is
        assert mx.sym.load_json(np_json).attr_dict() == {"z": {"__shape__": "(2, 0)"}}
    assert mx.sym.load_json(np_json).tojson() == want["np_read_legacy"]
    assert "is_np_shape" not in mx.sym.var("z").tojson()


# ------------------------------------------------------------ Executor.reshape shares memory

def test_reshape_shares_memory_like_mxnet():
    x = mx.sym.var("x")
    y = mx.sym.FullyConnected(x, num_hidden=2, name="fc")
    ex = y.simple_bind(mx.cpu(), x=(4, 3))
    ex.arg_dict["x"][:] = np.arange(12, dtype=np.float32).reshape(4, 3)
    ex.arg_dict["fc_weight"][:] = 1
    small = ex.reshape(x=(2, 3))
    # a shrunk argument (and its gradient) is the leading part of the original
    np.testing.assert_array_equal(small.arg_dict["x"].asnumpy(), [[0, 1, 2], [3, 4, 5]])
    small.arg_dict["x"][:] = 7
    assert (ex.arg_dict["x"].asnumpy()[:2] == 7).all() and ex.arg_dict["x"].asnumpy()[3, 0] == 9
    assert small.arg_dict["fc_weight"] is not None
    small.forward(is_train=True)
    small.backward(np.ones((2, 2), np.float32))
    assert (ex.grad_dict["x"].asnumpy()[:2] == 2).all()
    # its outputs show in the leading rows of the original's, as in MXNet
    assert (ex.outputs[0].asnumpy()[:2] == 21).all()
    assert (small.outputs[0].asnumpy() == 21).all()
    # ... without touching what the original's own backward reads
    sig = mx.sym.sigmoid(x)
    ex2 = sig.simple_bind(mx.cpu(), x=(4, 3))
    ex2.forward(is_train=True, x=np.zeros((4, 3), np.float32))
    ex2.reshape(x=(2, 3)).forward(x=np.full((2, 3), 5, np.float32))
    assert ex2.outputs[0].asnumpy()[0, 0] == np.float32(1 / (1 + np.exp(-5)))
    ex2.backward(np.ones((4, 3), np.float32))
    np.testing.assert_allclose(ex2.grad_dict["x"].asnumpy(), 0.25)
    # a reshape of a reshape lends into the first executor; growing allocates anew
    smaller = small.reshape(x=(1, 3))
    assert smaller._output_parent is ex
    big = ex.reshape(allow_up_sizing=True, x=(6, 3))
    big.arg_dict["x"][:] = 0
    assert (ex.arg_dict["x"].asnumpy()[:2] == 7).all()
    big.forward()
    assert big.outputs[0].shape == (6, 2)


# ------------------------------------------------------------ debug_str's memory total

def test_debug_str_total_matches_mxnet_on_a_chain():
    import re
    got = {}
    for key, sym, req in graphs.memory_cases(mx):
        ex = sym.simple_bind(mx.cpu(), data=(10, 3, 256, 256), grad_req=req)
        got[key] = int(re.search(r"Total (\d+) MB allocated", ex.debug_str()).group(1))
    # a backward keeps the activations; a gradient stopped at the head needs none
    assert got == FIX["debug_str_total_mb"]


# ------------------------------------------------------------ get_optimized_symbol (CSE)

def test_get_optimized_symbol_merges_common_subexpressions_like_mxnet(monkeypatch):
    cases = graphs.cse_cases(mx)
    for key, sym in cases.items():
        want = FIX["cse"][key]
        shapes = graphs.cse_shapes(key, sym)
        for flag in ("0", "1"):
            monkeypatch.setenv("MXNET_ELIMINATE_COMMON_EXPR", flag)
            ex = sym.simple_bind(mx.cpu(), **shapes)
            monkeypatch.delenv("MXNET_ELIMINATE_COMMON_EXPR")   # read at bind, not later
            opt = ex.get_optimized_symbol()
            assert opt.get_internals().list_outputs() == want[flag]["internals"], (key, flag)
            assert opt.list_outputs() == want[flag]["outputs"], (key, flag)
    # the merged graph computes what the original does (copies included)
    ex = cases["group_chain"].simple_bind(mx.cpu(), a=(2, 3), b=(2, 3))
    opt = ex.get_optimized_symbol().simple_bind(mx.cpu(), a=(2, 3), b=(2, 3))
    for e in (ex, opt):
        e.arg_dict["a"][:] = 2
        e.arg_dict["b"][:] = 1
    for x, y in zip(ex.forward(), opt.forward()):
        np.testing.assert_array_equal(x.asnumpy(), y.asnumpy())
    assert not np.shares_memory(opt.outputs[0].asnumpy(), opt.outputs[1].asnumpy())
    # rrelu draws random slopes: symnorm never merges it (MXNet 1.9.1 does, computing one
    # draw where the graph asks for two)
    a = mx.sym.var("a")
    rr = mx.sym.LeakyReLU(a, act_type="rrelu") + mx.sym.LeakyReLU(a, act_type="rrelu")
    opt = rr.simple_bind(mx.cpu(), a=(2, 3)).get_optimized_symbol()
    assert len(opt.get_internals().list_outputs()) == len(rr.get_internals().list_outputs())


# ------------------------------------------------------------ plot_network: dtypes, repeats

def test_plot_network_draws_dtypes_and_warns_on_repeated_names_like_mxnet():
    import re
    import warnings
    want = FIX["plot_network"]
    for key, kw in (("shape_dtype", {"shape": {"data": (100, 200)}, "dtype": {"data": np.float32}}),
                    ("dtype", {"dtype": {"data": np.float64}})):
        src = mx.viz.plot_network(graphs.plot_net(mx, "fc2"), **kw).source
        got = [list(e) for e in re.findall(r'\t"(\S+)" -> "(\S+)" \[label="([^"]*)"', src)]
        assert got == want[key], key
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mx.viz.plot_network(graphs.plot_net(mx, "fc"))
    assert len(caught) == len(want["warnings"]) == 1
    (kind, msg), = want["warnings"]
    head, names = msg.split("Repeated names: ")
    assert caught[0].category.__name__ == kind
    assert str(caught[0].message).startswith(head)
    assert sorted(str(caught[0].message).split(": ")[-1].split(",")) == sorted(names.split(","))
