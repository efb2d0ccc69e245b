"""Front-end behaviours MXNet 1.9.1's own test_operator.py relies on (issue "MXNet parity"):
numpy dtypes as op parameters, ``axis=None`` reductions, ``sym.maximum/minimum/pow`` with a
number on either side, and the test_utils checkers' MXNet signatures and defaults.
Goldens: tests/fixtures/mxnet_unittest_c/gen.py (real MXNet)."""
import json
import os

import numpy as np
import pytest

import symnorm as mx
from symnorm import test_utils as tu

with open(os.path.join(os.path.dirname(__file__), "fixtures", "mxnet_unittest_c",
                       "goldens.json")) as _f:
    G = json.load(_f)
X = np.array(G["x"], np.float32)
x = mx.sym.Variable("x")


def _run(sym, **args):
    ex = sym.bind(mx.cpu(), {k: mx.nd.array(v) for k, v in args.items()})
    return np.asarray(ex.forward()[0])


def _same(got, gold, shape=True):
    if shape:
        assert list(got.shape) == gold["shape"]
    assert np.dtype(got.dtype).name == gold["dtype"]
    np.testing.assert_allclose(got.astype(np.float64).ravel(), gold["value"], rtol=1e-6)


def test_numpy_dtype_objects_as_dtype_params():
    # before: ParamError "param 'dtype' expects str, got <class 'numpy.float16'>"
    attrs = G["dtype_attrs"]
    assert mx.sym.Cast(x, dtype=np.float16).list_attr() == attrs["Cast_np.float16"]
    assert mx.sym.Cast(x, dtype=np.dtype("int32")).list_attr() == attrs["Cast_np.dtype(int32)"]
    assert mx.sym.one_hot(x, depth=3, dtype=np.int32).list_attr() == attrs["one_hot_np.int32"]
    _same(_run(mx.sym.Cast(x, dtype=np.float16), x=X), G["cast_f16"])
    with pytest.raises(mx.base.MXNetError, match="dtype"):
        mx.sym.Cast(x, dtype=np.complex64)          # still a dtype MXNet lacks
    with pytest.raises(mx.base.MXNetError, match="act_type"):
        mx.sym.Activation(x, act_type=np.float32)   # a type where no dtype is meant


@pytest.mark.parametrize("key,kw", [("sum", dict(axis=None)),
                                    ("sum_exclude", dict(axis=None, exclude=True)),
                                    ("sum_empty_exclude", dict(axis=(), exclude=True))])
def test_reduce_axis_none_reduces_everything(key, kw):
    # before: ParamError "param 'axis' expects Shape(tuple of int), got None"; and
    # exclude=True with no axes reduced nothing (MXNet reduces everything)
    # and a full reduction is (1,) as in MXNet (it was ())
    _same(_run(mx.sym.sum(x, **kw), x=X), G["reduce_none"][key])
    _same(_run(mx.sym.max(x, axis=None, keepdims=True), x=X), G["reduce_none"]["max_keepdims"])


def test_full_reductions_are_shape_1():
    # before: sum/mean/max/min over every axis gave shape (), MXNet (1,); MXNet's tests
    # then pass a (1,) head gradient, which backward refused
    R = G["reduce_none"]
    _same(_run(mx.sym.mean(x), x=X), R["mean_all"])
    _same(_run(mx.sym.max(x), x=X), R["max_all"])
    _same(_run(mx.sym.min(x, axis=(0, 1)), x=X), R["min_all"])
    ex = mx.sym.sum(x).simple_bind(mx.cpu(), x=X.shape)
    ex.forward(is_train=True, x=X)
    ex.backward([mx.nd.array([2.0])])
    np.testing.assert_array_equal(np.asarray(ex.grad_dict["x"]), np.full(X.shape, 2.0))


def test_sym_maximum_minimum_pow_take_numbers_on_either_side():
    # before: TypeError "_maximum: positional input 1 (rhs) must be a Symbol, got 1";
    # sym.pow did not exist
    X2 = np.abs(X)
    for key, sym in [("maximum(x,1)", mx.sym.maximum(x, 1)), ("maximum(1,x)", mx.sym.maximum(1, x)),
                     ("minimum(x,0.5)", mx.sym.minimum(x, 0.5)),
                     ("minimum(0.5,x)", mx.sym.minimum(0.5, x)),
                     ("pow(x,2)", mx.sym.pow(x, 2)), ("pow(2,x)", mx.sym.pow(2, x))]:
        _same(_run(sym, x=X), G["lhs_rhs"][key])
    _same(_run(mx.sym.power(x, x), x=X2), G["lhs_rhs"]["power(x,x)"])
    assert mx.sym.maximum(3, 4) == G["numbers"]["maximum(3,4)"]
    assert mx.sym.minimum(3, 4) == G["numbers"]["minimum(3,4)"]
    assert mx.sym.pow(2, 3) == G["numbers"]["pow(2,3)"]
    with pytest.raises(TypeError, match="maximum"):
        mx.sym.maximum(x, "3")


def test_checkers_default_tolerances_are_mxnets():
    # before: rtol=None crashed inside numpy ("unsupported operand ... NoneType"), and the
    # forward default was atol 1e-20 where MXNet's float32 default is 1e-3
    y = x * 2
    tu.check_symbolic_forward(y, [X], [X * 2 + 5e-4])
    tu.check_symbolic_forward(y, [X], [X * 2], None, None)
    tu.check_symbolic_backward(y, [X], [np.ones_like(X)], [np.full_like(X, 2)], None, None)
    with pytest.raises(AssertionError, match="EXPECTED_"):
        tu.check_symbolic_forward(y, [X], [X * 2 + 1e-2])


def test_check_symbolic_backward_mxnet_signature():
    # MXNet's positional order: ..., grad_req, ctx, grad_stypes, equal_nan, dtype;
    # before: dtype landed in equal_nan's place and grad_stypes was refused
    y = x * x
    tu.check_symbolic_backward(y, {"x": X}, {y.list_outputs()[0]: np.ones_like(X)},
                               {"x": 2 * X}, 1e-5, 1e-6, None, "write", None, None, False,
                               np.float64)
    # 'add' adds to what the gradient array held: the checker compares what was added
    tu.check_symbolic_backward(y, [X], [np.ones_like(X)], [2 * X], grad_req="add")
    # 'null': there is no gradient array to compare (it crashed on None)
    tu.check_symbolic_backward(y, [X], [np.ones_like(X)], [np.zeros_like(X)], grad_req="null")
    tu.check_symbolic_forward(y, [X.astype(np.float64)], [X.astype(np.float64) ** 2],
                              dtype="asnumpy")
    with pytest.raises(mx.base.MXNetError, match="dtype"):
        tu.check_symbolic_forward(y, [X], [X], dtype=np.int32)


def test_check_numeric_gradient_defaults_and_grad_nodes_dict():
    # before: numeric_eps=None / rtol=None crashed; grad_nodes as a dict (MXNet's
    # name -> grad_req form) was read as a list of its keys including 'null' ones
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    loc = {"a": X.astype(np.float64), "b": X.astype(np.float64) + 3}
    tu.check_numeric_gradient(a * b, loc, numeric_eps=None, rtol=None)
    an, _ = tu.check_numeric_gradient(a * b, loc, grad_nodes={"a": "write", "b": "null"})
    assert set(an) == {"a"}


def test_mxnet_test_helpers():
    np.random.seed(3)
    s = tu.random_sample([1, 2, 3, 4], 2)
    assert len(s) == 2 and set(s) <= {1, 2, 3, 4}
    with pytest.raises(ValueError):
        tu.random_sample([1, 2], 3)
    tu.assert_exception(lambda: 1 / 0, ZeroDivisionError)
    with pytest.raises(AssertionError):
        tu.assert_exception(lambda: 1, ZeroDivisionError)
    d = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(tu.np_reduce(d, (0, 2), True, np.sum), d.sum((0, 2), keepdims=True))
    np.testing.assert_array_equal(tu.np_reduce(d, None, False, np.max), d.max())
    tu.assert_almost_equal_ignore_nan(np.array([1.0, np.nan]), np.array([1.0, 5.0]))
    assert tu.default_numeric_eps()[np.dtype(np.float64)] == 2.0 ** -14
    assert mx.base.py_str(b"abc") == "abc" and mx.base._as_list((1, 2)) == [1, 2]
    assert mx.base._as_list(3) == [3]


def test_reshape_deprecated_target_shape():
    # before: target_shape's 0 was read as "copy the input dim" (shape codes) and
    # keep_highest prepended the first dim; MXNet infers the 0 dim and overwrites entry 0
    for key, want in G["reshape_target_shape"].items():
        ts, kh = key.rsplit(",", 1)
        sym = mx.sym.Reshape(x, target_shape=eval(ts), keep_highest=kh == "True")
        assert sym.infer_shape(x=(2, 3, 5, 5))[1][0] == tuple(want)
    # MXNet 1.9.1 infers (5,) here and segfaults in forward; symnorm refuses
    with pytest.raises(mx.base.MXNetError, match="target_shape"):
        mx.sym.Reshape(x, target_shape=(5,)).infer_shape(x=(2, 3, 5, 5))
    with pytest.raises(mx.base.MXNetError, match="at most one 0"):
        mx.sym.Reshape(x, target_shape=(0, 0))


def _grads(sym, vals, head):
    ex = sym.simple_bind(mx.cpu(), **{k: v.shape for k, v in vals.items()})
    for k, v in vals.items():
        ex.arg_dict[k][...] = v
    ex.forward(is_train=True)
    ex.backward([np.asarray(head, ex.outputs[0].dtype)])
    return ex


def test_integer_mod_has_zero_gradient():
    # before: int32 mod passed dy and -dy*floor(a/b) back, MXNet gives 0 (as its test_binary_op)
    A = np.array([[5, 7, 9], [4, 3, 8]], np.float32)
    B = np.array([[2, 3, 4], [3, 2, 5]], np.float32)
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    ia, ib = mx.sym.cast(a, dtype="int32"), mx.sym.cast(b, dtype="int32")
    H = np.full((2, 3), 3.0)
    for key, sym, vals in [("a%b", ia % ib, {"a": A, "b": B}), ("a%3", ia % 3, {"a": A}),
                           ("7%a", 7 % ia, {"a": A}), ("float a%b", a % b, {"a": A + 0.5, "b": B})]:
        gold = G["int_mod_grads"][key]
        ex = _grads(sym, vals, H)
        assert np.dtype(ex.outputs[0].dtype).name == gold["dtype"]
        np.testing.assert_array_equal(np.asarray(ex.outputs[0]), gold["out"])
        for k in vals:
            np.testing.assert_allclose(np.asarray(ex.grad_dict[k]), gold["grads"][k])


def test_one_hot_depth_zero():
    # before: ParamError "depth must be >= 1"; MXNet gives an empty last axis
    assert list(mx.nd.one_hot(mx.nd.array([1, 2]), depth=0).shape) == G["one_hot_depth0"]
    with pytest.raises(mx.base.MXNetError, match="depth"):
        mx.nd.one_hot(mx.nd.array([1, 2]), depth=-1)


def test_backward_after_inference_forward_reuses_its_dropout_mask():
    # before: backward() after forward(is_train=False) re-ran the inference forward and drew
    # a new mask for Dropout(mode='always'), so the gradient disagreed with the output
    # (MXNet's test_dropout: with ones in and ones back, gradient == output)
    y = mx.sym.Dropout(mx.sym.Variable("data"), p=0.5, mode="always")
    ex = y.simple_bind(mx.cpu(), data=(4, 50))
    ex.arg_arrays[0][:] = 1
    for train in (True, False):
        ex.forward(is_train=train)
        out = np.asarray(ex.outputs[0]).copy()
        assert 0 < (out == 0).sum() < out.size
        ex.backward([mx.nd.ones((4, 50))], is_train=train)
        np.testing.assert_array_equal(np.asarray(ex.grad_arrays[0]), out)


def test_operator_introspection():
    # before: mx.operator had no get_all_registered_operators / get_operator_arguments
    ops = mx.operator.get_all_registered_operators()
    assert isinstance(ops, list) and "Activation" in ops and "FullyConnected" in ops
    for op, (narg, names, types) in G["operator_arguments"].items():
        got = mx.operator.get_operator_arguments(op)
        assert isinstance(got, mx.operator.OperatorArguments)
        assert (got.narg, got.names) == (narg, names), op
        if op in ("FullyConnected", "Reshape", "Cast", "Dropout"):
            # MXNet's strings come from its C++ param docs; the common forms match
            assert [t.replace(" ", "") for t in got.types] == [t.replace(" ", "") for t in types]
    with pytest.raises(mx.base.MXNetError, match="no op named"):
        mx.operator.get_operator_arguments("NoSuchOp")


def test_softmax_output_probability_labels():
    # before: a label shaped like the data was refused ("inconsistent shape, provided (3, 4),
    # inferred (3,)"); MXNet reads it as class probabilities: grad = grad_scale * (p - label)
    for key, case in G["softmax_output_prob_label"].items():
        xv, lv = np.array(case["x"], np.float32), np.array(case["label"], np.float32)
        Y = mx.sym.SoftmaxOutput(mx.sym.Variable("X"), mx.sym.Variable("L"), **case["kw"])
        grad = mx.nd.zeros(xv.shape)
        ex = Y.bind(mx.cpu(), {"X": mx.nd.array(xv), "L": mx.nd.array(lv)}, args_grad={"X": grad})
        ex.forward(is_train=True)
        ex.backward()
        np.testing.assert_allclose(np.asarray(ex.outputs[0]), case["out"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(np.asarray(grad), case["grad"], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("key", ["c", "full", "nc4d", "c4d", "one"])
def test_prelu_gamma_broadcasts_like_mxnet(key):
    # before: gamma had to be (C,): a (N, C) gamma (MXNet's test_prelu "gam_full") or a (1,)
    # one was refused ("inconsistent shape, provided (3, 4), inferred (4,)")
    case = G["prelu"][key]
    xv, gv = np.array(case["x"], np.float32), np.array(case["gamma"], np.float32)
    y = mx.sym.LeakyReLU(mx.sym.Variable("x"), mx.sym.Variable("gamma"), act_type="prelu")
    gx, gg = mx.nd.zeros(xv.shape), mx.nd.zeros(gv.shape)
    ex = y.bind(mx.cpu(), {"x": mx.nd.array(xv), "gamma": mx.nd.array(gv)},
                args_grad={"x": gx, "gamma": gg})
    ex.forward(is_train=True)
    ex.backward([mx.nd.array(np.array(case["head"], np.float32))])
    np.testing.assert_allclose(np.asarray(ex.outputs[0]), case["out"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(gx), case["gx"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(gg), case["gg"], rtol=1e-5, atol=1e-6)


def test_prelu_gamma_that_cannot_broadcast_is_refused():
    y = mx.sym.LeakyReLU(mx.sym.Variable("x"), mx.sym.Variable("gamma"), act_type="prelu")
    with pytest.raises(mx.base.MXNetError, match="gamma"):
        y.infer_shape(x=(3, 4, 5), gamma=(5,))
    assert y.infer_shape(x=(3, 4, 5))[0][1] == (4,)


@pytest.mark.parametrize("key", ["axis1", "axis1_t2"])
def test_softmax_use_length(key):
    # before: ParamError "'length' is not an input of softmax"
    S = G["softmax_length"]
    case = S[key]
    sx, sl = np.array(S["x"], np.float32), np.array(S["length"], np.int32)
    sym = mx.sym.softmax(mx.sym.Variable("data"), mx.sym.Variable("length"), use_length=True,
                         **case["kw"])
    assert sym.list_arguments() == ["data", "length"]
    assert sym.infer_shape(data=sx.shape)[0][1] == sl.shape
    grad = mx.nd.zeros(sx.shape)
    ex = sym.bind(mx.cpu(), {"data": mx.nd.array(sx), "length": mx.nd.array(sl, dtype=np.int32)},
                  args_grad={"data": grad}, grad_req={"data": "write", "length": "null"})
    ex.forward(is_train=True)
    ex.backward([mx.nd.array(np.array(S["head"], np.float32))])
    np.testing.assert_allclose(np.asarray(ex.outputs[0]), case["out"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(grad), case["grad"], rtol=1e-5, atol=1e-7)
    with pytest.raises(mx.base.MXNetError, match="length"):
        sym.infer_shape(data=(2, 4, 3), length=(2, 4))
    with pytest.raises(mx.base.MXNetError, match="integer"):
        sym.infer_type(data="float32", length="float32")


def test_softmax_dtype():
    # before: softmax had no dtype param
    ex = mx.sym.softmax(x, dtype="float64").bind(mx.cpu(), {"x": mx.nd.array(X, dtype=np.float16)})
    out = np.asarray(ex.forward()[0])
    assert out.dtype.name == G["softmax_dtype"]["dtype"]
    np.testing.assert_allclose(out, G["softmax_dtype"]["out"], rtol=1e-3)


def test_pick_index_with_the_axis_kept():
    # before: ShapeError "index vs data without axis 1: inconsistent rank, (2, 1, 4) vs (2, 4)"
    pd = np.arange(24.0).reshape(2, 3, 4)
    pi = np.array([[[0, 1, 2, 0]], [[2, 2, 1, 0]]], np.float32)
    gold = G["pick_kept_index"]
    np.testing.assert_array_equal(np.asarray(mx.nd.pick(mx.nd.array(pd), mx.nd.array(pi), axis=1)),
                                  gold["out"])
    np.testing.assert_array_equal(
        np.asarray(mx.nd.pick(mx.nd.array(pd), mx.nd.array(pi), axis=1, keepdims=True)),
        gold["out_keepdims"])
    ex = _grads(mx.sym.pick(mx.sym.Variable("d"), mx.sym.Variable("i"), axis=1),
                {"d": pd, "i": pi}, np.ones((2, 4)))
    assert np.asarray(ex.grad_dict["d"]).sum() == 8
    with pytest.raises(mx.base.MXNetError, match="size 1 on axis 1"):
        mx.nd.pick(mx.nd.array(pd), mx.nd.zeros((2, 2, 4)), axis=1)


def test_dropout_p_one_drops_everything():
    # before: ParamError "'p' must be in [0.0, 1.0)"; MXNet accepts p=1 (and outputs NaN,
    # 0 * inf: symnorm gives the zeros dropping everything means, docs/porting.md)
    ex = _grads(mx.sym.Dropout(x, p=1.0), {"x": X}, np.ones_like(X))
    np.testing.assert_array_equal(np.asarray(ex.outputs[0]), 0)
    np.testing.assert_array_equal(np.asarray(ex.grad_dict["x"]), 0)
    with pytest.raises(mx.base.MXNetError, match="'p'"):
        mx.sym.Dropout(x, p=1.5)


def test_pooling_same_convention_takes_no_pad():
    # before: pad=(0, 0, 0) (what MXNet's test passes, as MXNet reads pad[0..2]) was refused
    # for a 1-d kernel, and a non-zero pad was silently accepted (MXNet refuses it)
    d = mx.nd.array(np.arange(10.0).reshape(1, 1, 10))
    out = mx.nd.Pooling(d, kernel=2, stride=2, pad=(0, 0, 0), pool_type="max",
                        pooling_convention="same")
    np.testing.assert_array_equal(np.asarray(out), G["pool_same_zero_pad"])
    with pytest.raises(mx.base.MXNetError, match="pad"):
        mx.nd.Pooling(d, kernel=2, stride=2, pad=2, pool_type="max", pooling_convention="same")
    with pytest.raises(mx.base.MXNetError, match="pad"):
        mx.nd.Pooling(d, kernel=2, stride=2, pad=(0, 0), pool_type="max")
