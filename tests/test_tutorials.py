"""The call sequences of MXNet 1.x's NDArray, symbol, module and predict-with-a-pretrained-model
tutorials, on symnorm's own small nets (numbers from MXNet 1.9.1 where they are fixed):
sharing one args dict between symbols, loading a whole checkpoint into a module of part of
the net, batches that are bare namedtuples, the legacy ``mx.nd.random_*`` functions and the
(1,) shape of full reductions."""
from collections import namedtuple

import numpy as np
import pytest

import symnorm as mx

Batch = namedtuple("Batch", ["data"])


# ------------------------------------------------------------------ bind with a shared dict

def test_bind_skips_names_the_symbol_lacks():
    """One dict of arrays binds several symbols: names a symbol lacks are skipped (MXNet
    1.9.1: ``(a + a*a)`` bound with ``{'a': 2s, 'b': 2s}`` gives 6s)."""
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    shared = {"x": mx.nd.full((2, 3), 2.0), "y": mx.nd.full((2, 3), 5.0)}
    only_x = x * x + x
    ex = only_x.bind(mx.cpu(), args=shared)
    np.testing.assert_array_equal(ex.forward()[0].asnumpy(), np.full((2, 3), 6.0, np.float32))
    both = mx.sym.broadcast_mul(x, y)
    np.testing.assert_array_equal(both.bind(mx.cpu(), args=shared).forward()[0].asnumpy(),
                                  np.full((2, 3), 10.0, np.float32))
    # a required name still must be there; a stray gradient name is said (it would be lost)
    with pytest.raises(mx.BindError, match="key `y` is missing"):
        both.bind(mx.cpu(), args={"x": shared["x"], "z": shared["y"]})
    with pytest.warns(UserWarning, match="args_grad has name.*gx.*not arguments"):
        ex = only_x.bind(mx.cpu(), args=shared, args_grad={"gx": mx.nd.zeros((2, 3))})
    assert ex.grad_dict["x"] is None


# ------------------------------------------------------------------ pretrained-model flow

def _small_classifier():
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, num_filter=4, kernel=(3, 3), pad=(1, 1), name="conv0")
    net = mx.sym.BatchNorm(net, fix_gamma=False, name="bn0")
    net = mx.sym.Activation(net, act_type="relu", name="relu0")
    net = mx.sym.Pooling(net, global_pool=True, kernel=(2, 2), pool_type="avg", name="pool0")
    net = mx.sym.Flatten(net, name="flat")
    net = mx.sym.FullyConnected(net, num_hidden=5, name="out")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _saved_checkpoint(tmp_path):
    rng = np.random.RandomState(3)
    net = _small_classifier()
    args, _, auxs = net.infer_shape(data=(1, 2, 6, 6))
    arg_params = {n: mx.nd.array(rng.normal(0, 0.3, s)) for n, s in zip(net.list_arguments(), args)
                  if n not in ("data", "softmax_label")}
    aux_params = {n: mx.nd.array(rng.uniform(0.5, 1.5, s))
                  for n, s in zip(net.list_auxiliary_states(), auxs)}
    prefix = str(tmp_path / "small")
    mx.model.save_checkpoint(prefix, 0, net, arg_params, aux_params)
    return prefix


def test_predict_and_extract_features_from_a_loaded_checkpoint(tmp_path):
    """save_checkpoint -> load_checkpoint -> a label-less Module fed namedtuple batches;
    then a Module of an internal output takes the whole checkpoint's parameters (the
    classifier's are skipped, as MXNet's set_params does)."""
    sym, arg_params, aux_params = mx.model.load_checkpoint(_saved_checkpoint(tmp_path), 0)
    mod = mx.mod.Module(symbol=sym, context=mx.cpu(), label_names=None)
    mod.bind(for_training=False, data_shapes=[("data", (1, 2, 6, 6))], label_shapes=mod._label_shapes)
    mod.set_params(arg_params, aux_params, allow_missing=True)
    img = mx.nd.array(np.random.RandomState(0).uniform(0, 1, (1, 2, 6, 6)))
    mod.forward(Batch([img]))
    prob = mod.get_outputs()[0].asnumpy()
    assert prob.shape == (1, 5) and abs(prob.sum() - 1) < 1e-5

    internals = sym.get_internals()
    assert internals.list_outputs()[-6:] == ["flat_output", "out_weight", "out_bias",
                                             "out_output", "softmax_label", "softmax_output"]
    feat_sym = internals["flat_output"]
    fe_mod = mx.mod.Module(symbol=feat_sym, context=mx.cpu(), label_names=None)
    fe_mod.bind(for_training=False, data_shapes=[("data", (1, 2, 6, 6))])
    fe_mod.set_params(arg_params, aux_params)            # out_weight/out_bias: not in this net
    fe_mod.forward(Batch([img]))
    features = fe_mod.get_outputs()[0].asnumpy()
    assert features.shape == (1, 4)
    # the features, pushed through the classifier's own weights, give the module's answer
    logits = features @ arg_params["out_weight"].asnumpy().T + arg_params["out_bias"].asnumpy()
    e = np.exp(logits - logits.max())
    np.testing.assert_allclose(e / e.sum(), prob, rtol=1e-5)

    # allow_missing=True copies straight in, and then refuses names the net lacks (MXNet)
    with pytest.raises(ValueError, match="out_bias, out_weight are not in the symbol"):
        fe_mod.set_params(arg_params, aux_params, allow_missing=True)
    fe_mod.set_params(arg_params, aux_params, allow_missing=True, allow_extra=True)


def test_a_namedtuple_batch_of_another_size_reshapes_the_module():
    """A bare ``Batch(data=[x])`` with another batch size rebinds, and the module then
    reports the new shapes (MXNet: data_shapes follows the implicit reshape)."""
    net = mx.sym.softmax(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc"))
    mod = mx.mod.Module(net, label_names=None)
    mod.bind(for_training=False, data_shapes=[("data", (1, 4))])
    mod.init_params(mx.init.Constant(0.25))
    for n in (1, 5, 2):
        mod.forward(Batch([mx.nd.ones((n, 4))]))
        assert mod.get_outputs()[0].shape == (n, 3)
        assert mod.data_shapes[0].name == "data" and mod.data_shapes[0].shape == (n, 4)
        assert mod.output_shapes[0][1] == (n, 3)
    np.testing.assert_allclose(mod.get_outputs()[0].asnumpy(), np.full((2, 3), 1 / 3), rtol=1e-6)


# ------------------------------------------------------------------ NDArray tutorial calls

def test_legacy_random_functions():
    """mx.nd.random_normal / random_uniform / normal / uniform / random_randint ... take
    numbers and a required shape (MXNet's legacy ops)."""
    mx.random.seed(11)
    a = mx.nd.random_normal(0, 1, shape=(3, 4))
    mx.random.seed(11)
    b = mx.nd.random_normal(loc=0, scale=1, shape=(3, 4))
    assert a.shape == (3, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    assert mx.nd.random_uniform(shape=5).shape == (5,)
    assert mx.nd.random_uniform(-1, 1, shape=(2,), dtype="float64").dtype == np.float64
    assert mx.nd.uniform(2, 3, shape=(100,)).asnumpy().min() >= 2
    assert mx.nd.normal(loc=1, scale=2, shape=(2,)).dtype == np.float32
    assert mx.nd.random_randint(0, 5, shape=(2,)).dtype == np.int32
    assert abs(float(mx.nd.random_gamma(2, 3, shape=(20000,)).asnumpy().mean()) - 6) < 0.3
    assert abs(float(mx.nd.random_exponential(4, shape=(20000,)).asnumpy().mean()) - 0.25) < 0.02
    assert mx.nd.random_poisson(3, shape=(4,)).dtype == np.float32
    with pytest.raises(mx.ParamError, match="random_normal: loc must be a number"):
        mx.nd.random_normal(mx.nd.ones(2), mx.nd.ones(2), shape=(2,))
    with pytest.raises(mx.ParamError, match="random_uniform: shape is required"):
        mx.nd.random_uniform(0, 1)


def test_full_reductions_give_shape_1():
    """MXNet 1.x never gives a 0-d array: nd.sum(ones((2, 3))) is [6.] of shape (1,), and
    so are mean/max/min over every axis; keepdims and partial reductions are unchanged."""
    a = mx.nd.ones((2, 3))
    for got, want in ((mx.nd.sum(a), 6.0), (a.sum(), 6.0), (a.mean(), 1.0), (mx.nd.max(a), 1.0),
                      (mx.nd.min(a, axis=(0, 1)), 1.0), (mx.nd.sum(a, axis=(1, 0)), 6.0)):
        assert got.shape == (1,) and got.asscalar() == want
    assert mx.nd.sum(a, axis=1).shape == (2,)
    assert mx.nd.sum(a, keepdims=True).shape == (1, 1)
    assert mx.nd.sum(mx.nd.ones((4,)), axis=0).shape == (1,)
    x = mx.sym.Variable("x")
    for red in (mx.sym.sum, mx.sym.mean, mx.sym.max, mx.sym.min):
        assert red(x).infer_shape(x=(2, 3))[1] == [(1,)]
    # the gradient of a full reduction comes back through the (1,) output
    ex = (mx.sym.sum(x) * 3).simple_bind(mx.cpu(), x=(2, 3))
    ex.forward(is_train=True, x=mx.nd.ones((2, 3)))
    ex.backward(mx.nd.ones((1,)))
    np.testing.assert_array_equal(ex.grad_dict["x"].asnumpy(), np.full((2, 3), 3.0))


def test_full_reduction_exports_to_onnx_with_shape_1(tmp_path):
    """ONNX reductions give 0-d there; the export reshapes to MXNet's (1,)."""
    ort = pytest.importorskip("onnxruntime")
    x = mx.sym.Variable("data")
    y = mx.sym.broadcast_add(mx.sym.sum(x) * mx.sym.max(x), mx.sym.min(x, axis=0))
    path = str(tmp_path / "red.onnx")
    mx.onnx.export_model(y, {}, [(2, 3)], onnx_file_path=path)
    v = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = ort.InferenceSession(path).run(None, {"data": v})[0]
    np.testing.assert_allclose(got, y.eval(data=mx.nd.array(v))[0].asnumpy())
    mx.onnx.export_model(mx.sym.mean(x), {}, [(2, 3)], onnx_file_path=path)
    got = ort.InferenceSession(path).run(None, {"data": v})[0]
    assert got.shape == (1,) and got[0] == 2.5


# ------------------------------------------------------------------ MXNet's numbers

def _mxnet_cases():
    import json
    import os
    path = os.path.join(os.path.dirname(__file__), "fixtures", "tutorials_mxnet", "mxnet-dot-reduce.json")
    with open(path) as f:
        return json.load(f)["cases"]


def _case_id(c):
    shapes = "x".join("".join(map(str, np.shape(v))) for v in c["inputs"].values())
    flags = "".join(k[-1] for k, v in c["params"].items() if v is True)
    return "%s-%s%s" % (c["op"], shapes, "-T" + flags if flags else "")


@pytest.mark.parametrize("case", _mxnet_cases(), ids=_case_id)
def test_dot_reductions_squeeze_pick_match_mxnet(case):
    """dot of two vectors is (1,); transpose_a contracts lhs's first axis and transpose_b
    rhs's last, the other axes kept in order (N-d operands read as matrices, as MXNet)."""
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in case["params"].items()}
    sym = getattr(mx.sym, case["op"])(*[mx.sym.Variable(k) for k in case["inputs"]], **params)
    inputs = {k: np.array(v, np.float32) for k, v in case["inputs"].items()}
    ex = sym.simple_bind(mx.cpu(), **{k: v.shape for k, v in inputs.items()})
    out = ex.forward(is_train=True, **inputs)[0]
    assert out.shape == tuple(case["out_shape"])
    np.testing.assert_allclose(out.asnumpy(), np.array(case["out"], np.float32).reshape(out.shape),
                               rtol=1e-5, atol=1e-6)
    ex.backward((np.arange(out.size, dtype=np.float32).reshape(out.shape) + 1) / 4)
    for k, want in case["grads"].items():
        np.testing.assert_allclose(ex.grad_dict[k].asnumpy(), np.array(want, np.float32),
                                   rtol=1e-5, atol=1e-6)
    # mx.nd answers the same
    np.testing.assert_allclose(getattr(mx.nd, case["op"])(*inputs.values(), **params).asnumpy(),
                               out.asnumpy(), rtol=1e-6)


def test_dot_refuses_to_transpose_vectors():
    v = mx.nd.array([1, 2, 3])
    assert mx.nd.dot(v, v).shape == (1,) and mx.nd.dot(v, v).asscalar() == 14
    with pytest.raises(mx.ShapeError, match="cannot transpose vectors"):
        mx.nd.dot(v, v, transpose_a=True)


def test_context_is_a_with_block():
    """``with mx.Context(ctx):`` (the NDArray tutorial's default-device block) runs."""
    with mx.Context(mx.cpu()) as ctx:
        assert ctx == mx.cpu() and mx.nd.ones((2, 2)).context == mx.cpu()
    with mx.cpu(0):
        assert mx.context.current_context() == mx.cpu()


def test_dot_of_nd_operands_with_transposes_exports_to_onnx(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.RandomState(1)
    for sa, sb, ta, tb in (((4, 2, 3), (4, 5), True, False), ((2, 3), (4, 5, 3), False, True),
                           ((3,), (3,), False, False)):
        z = mx.sym.dot(mx.sym.Variable("a"), mx.sym.Variable("b"), transpose_a=ta, transpose_b=tb)
        path = str(tmp_path / "dot.onnx")
        mx.onnx.export_model(z, {}, [sa, sb], onnx_file_path=path)
        a, b = rng.normal(size=sa).astype(np.float32), rng.normal(size=sb).astype(np.float32)
        got = ort.InferenceSession(path).run(None, {"a": a, "b": b})[0]
        want = z.eval(a=mx.nd.array(a), b=mx.nd.array(b))[0].asnumpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_squeezing_every_axis_exports_to_onnx_with_shape_1(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = str(tmp_path / "sq.onnx")
    for z in (mx.sym.squeeze(mx.sym.Variable("a")), mx.sym.squeeze(mx.sym.Variable("a"), axis=(1, 0))):
        mx.onnx.export_model(z, {}, [(1, 1)], onnx_file_path=path)
        got = ort.InferenceSession(path).run(None, {"a": np.full((1, 1), 3.0, np.float32)})[0]
        assert got.shape == (1,) and got[0] == 3.0
