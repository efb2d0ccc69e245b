"""MXNet 1.9.1's smaller public names: metric ``mcc`` and ``get_config``, the optimizers
FTML, LAMB and SGLD, op constructors' positional and hidden-attribute forms, and
``test_utils``'s helpers; goldens measured with MXNet 1.9.1."""
import numpy as np
import pytest

import symnorm as sn


def _binary_batches():
    rng = np.random.RandomState(0)
    out = []
    for _ in range(3):
        p = rng.rand(10, 2)
        out.append((rng.randint(0, 2, 10).astype(np.float32),
                    (p / p.sum(1, keepdims=True)).astype(np.float32)))
    return out


# MXNet 1.9.1: (get, get_global) after each of three updates (reset_local after the
# second), then once more at the end
MX_MCC = {
    "macro": [(-0.42857142857142855, -0.42857142857142855), (-0.3233946594037105, -0.3233946594037105),
              (0.21821789023599236, -0.14285714285714288), (0.21821789023599236, -0.14285714285714288)],
    "micro": [(-0.42857142857142855, -0.42857142857142855), (-0.2041241452319315, -0.2041241452319315),
              (0.21821789023599236, -0.13875598086124402), (0.21821789023599236, -0.13875598086124402)],
}


@pytest.mark.parametrize("average", ["macro", "micro"])
def test_mcc_matches_mxnet_local_and_global(average):
    m = sn.metric.create("mcc", average=average)
    assert m.name == "mcc" and np.isnan(m.get()[1])
    got = []
    for i, (label, pred) in enumerate(_binary_batches()):
        m.update([label], [pred])
        got.append((m.get()[1], m.get_global()[1]))
        if i == 1:
            m.reset_local()
    got.append((m.get()[1], m.get_global()[1]))
    np.testing.assert_allclose(got, MX_MCC[average], rtol=1e-12)
    assert isinstance(sn.metric.MCC(), sn.metric.EvalMetric)
    with pytest.raises(ValueError, match="binary"):
        sn.metric.MCC().update([np.array([0, 1, 2])], [np.eye(3)])


def test_metric_get_config_as_mxnet():
    base = {"output_names": None, "label_names": None}
    cases = [  # create(...) arguments, MXNet 1.9.1's get_config()
        (("acc",), {}, {"axis": 1, "metric": "Accuracy", "name": "accuracy"}),
        (("acc",), {"axis": 0}, {"axis": 0, "metric": "Accuracy", "name": "accuracy"}),
        (("top_k_accuracy",), {"top_k": 3}, {"top_k": 3, "metric": "TopKAccuracy", "name": "top_k_accuracy_3"}),
        (("ce",), {}, {"eps": 1e-12, "metric": "CrossEntropy", "name": "cross-entropy"}),
        (("nll_loss",), {}, {"eps": 1e-12, "metric": "NegativeLogLikelihood", "name": "nll-loss"}),
        (("perplexity",), {"ignore_label": 0}, {"ignore_label": 0, "metric": "Perplexity", "name": "perplexity"}),
        (("f1",), {"average": "micro"}, {"metric": "F1", "name": "f1"}),
        (("mcc",), {}, {"metric": "MCC", "name": "mcc"}),
        (("mse",), {}, {"metric": "MSE", "name": "mse"}),
        (("rmse",), {}, {"metric": "RMSE", "name": "rmse"}),
        (("loss",), {}, {"metric": "Loss", "name": "loss"}),
        (("pearsonr",), {}, {"metric": "PearsonCorrelation", "name": "pearsonr"}),
    ]
    for args, kw, expect in cases:
        assert sn.metric.create(*args, **kw).get_config() == {**base, **expect}, args
    named = sn.metric.create("ce", eps=1e-3, name="x", output_names=["a"], label_names=["b"])
    assert named.get_config() == {"eps": 0.001, "metric": "CrossEntropy", "name": "x",
                                  "output_names": ["a"], "label_names": ["b"]}
    comp = sn.metric.create(["acc", "mse"]).get_config()
    assert comp == {"metric": "CompositeEvalMetric", "name": "composite", **base,
                    "metrics": [{"axis": 1, "metric": "Accuracy", "name": "accuracy", **base},
                                {"metric": "MSE", "name": "mse", **base}]}
    # a config recreates the metric (MXNet: the top-k name gains its suffix twice)
    assert sn.metric.create(**sn.metric.create("top_k_accuracy", top_k=3).get_config()).name \
        == "top_k_accuracy_3_3"
    assert sn.metric.create(**sn.metric.create("mcc").get_config()).name == "mcc"
    with pytest.raises(NotImplementedError, match="CustomMetric cannot be serialized"):
        sn.metric.create(lambda a, b: 1.0).get_config()


# Final weights after three updates from MXNet 1.9.1 (mx.optimizer.create(name, **kw),
# weight [0.5, -1.5, 2.0, 0.05], the gradients below).  SGLD's with MXNet's Gaussian draw
# patched to zeros (mxnet.optimizer.optimizer.normal), i.e. its deterministic part.
_B = {'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5}
MX_MORE_OPTIMIZERS = [
    ('ftml', dict(_B), [0.4924185574054718, -1.4876854419708252, 1.9842802286148071, 0.053287751972675323]),
    ('ftml', dict(_B, learning_rate=0.1, beta1=0.7, epsilon=1e-06),
     [0.4238942563533783, -1.3829718828201294, 1.8457964658737183, 0.08934491127729416]),
    ('ftml', {'learning_rate': 0.05}, [0.4598033130168915, -1.447556734085083, 1.9200923442840576, 0.07913405448198318]),
    ('lamb', dict(_B), [0.4973321259021759, -1.4977456331253052, 1.9949077367782593, 0.05212459713220596]),
    ('lamb', dict(_B, learning_rate=0.1, bias_correction=False),
     [0.2431418001651764, -1.3011361360549927, 1.5402988195419312, 0.26185324788093567]),
    ('lamb', dict(_B, learning_rate=0.1, lower_bound=2.0, upper_bound=2.5),
     [0.25155889987945557, -1.2908778190612793, 1.5302345752716064, 0.25073251128196716]),
    ('lamb', dict(_B, learning_rate=0.1, upper_bound=1.0),
     [0.39561063051223755, -1.4115078449249268, 1.8004554510116577, 0.13269779086112976]),
    ('lamb', {'learning_rate': 0.05}, [0.34801945090293884, -1.4008866548538208, 1.7730438709259033, 0.1980656534433365]),
    ('sgld', dict(_B, learning_rate=0.1), [0.46394655108451843, -1.4462718963623047, 1.92778742313385, 0.0468825027346611]),
    ('sgld', {'learning_rate': 0.2}, [0.26999998092651367, -1.2300000190734863, 1.7200000286102295, 0.24000002443790436]),
]
GRADS = [[3.0, -0.2, 1.0, -4.0], [-1.0, 0.5, 2.5, 0.1], [0.3, -3.0, -0.7, 2.0]]


@pytest.mark.parametrize("name,kw,expect", MX_MORE_OPTIMIZERS)
def test_ftml_lamb_sgld_match_mxnet(name, kw, expect, monkeypatch):
    opt = sn.optimizer.create(name, **kw)
    if name == "sgld":
        monkeypatch.setattr(type(opt), "_noise", staticmethod(lambda lr, shape: np.zeros(shape)))
    w = np.array([0.5, -1.5, 2.0, 0.05], np.float32)
    state = opt.create_state(0, w)
    for g in GRADS:
        opt.update(0, w, np.array(g, np.float32), state)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, expect, rtol=2e-6, atol=1e-7)


def test_more_optimizers_defaults_as_mxnet():
    ftml, lamb, sgld = (sn.optimizer.create(n) for n in ("FTML", "lamb", "sgld"))
    assert (ftml.lr, ftml.beta1, ftml.beta2, ftml.epsilon) == (0.01, 0.6, 0.999, 1e-8)
    assert (lamb.lr, lamb.beta1, lamb.beta2, lamb.epsilon, lamb.lower_bound, lamb.upper_bound,
            lamb.bias_correction) == (0.001, 0.9, 0.999, 1e-6, None, None, True)
    assert sgld.lr == 0.01 and sgld.create_state(0, np.zeros(2)) is None
    assert isinstance(ftml, sn.optimizer.FTML) and isinstance(lamb, sn.optimizer.Optimizer)


def test_sgld_noise_is_gaussian_with_variance_lr_and_repeats_under_seed():
    """SGLD's random part: with a zero gradient and no decay each step adds N(0, lr) noise
    (MXNet: normal(0, sqrt(lr))); mx.random.seed makes the draws repeat."""
    def run():
        w = np.zeros(20000, np.float32)
        sn.optimizer.create("sgld", learning_rate=0.04).update(0, w, np.zeros_like(w), None)
        return w
    sn.random.seed(3)
    a = run()
    sn.random.seed(3)
    np.testing.assert_array_equal(a, run())
    assert abs(a.mean()) < 0.005 and abs(a.std() - 0.2) < 0.005


def test_op_constructors_take_mxnet_positional_forms():
    """Params after the inputs in MXNet's order, None for an absent input slot (MXNet
    1.9.1's attr_dict / list_arguments on the same calls)."""
    x, w = sn.sym.var("x"), sn.sym.var("w")
    assert sn.sym.Dropout(x, 0.3, name="d").attr_dict() == {"d": {"p": "0.3"}}
    assert sn.sym.Dropout(x, 0.3, "always", name="d").attr_dict() == {"d": {"mode": "always", "p": "0.3"}}
    conv = sn.sym.Convolution(x, w, None, kernel=(3, 3), num_filter=4, no_bias=True, name="c")
    assert conv.list_arguments() == ["x", "w"]
    assert conv.attr_dict() == {"c": {"num_filter": "4", "no_bias": "True", "kernel": "(3, 3)"}}
    assert sn.sym.Convolution(x, w, None, kernel=(3, 3), num_filter=4, name="c").list_arguments() \
        == ["x", "w", "c_bias"]
    assert sn.sym.Convolution(x, None, None, kernel=(3, 3), num_filter=4, name="c").list_arguments() \
        == ["x", "c_weight", "c_bias"]
    assert sn.sym.FullyConnected(x, w, None, 5, name="f").list_arguments() == ["x", "w", "f_bias"]
    fc = sn.sym.FullyConnected(x, w, None, 5, True, name="f")
    assert fc.list_arguments() == ["x", "w"] and fc.attr_dict() == {"f": {"no_bias": "True", "num_hidden": "5"}}
    assert sn.sym.Activation(x, "relu", name="a").attr_dict() == {"a": {"act_type": "relu"}}
    assert sn.sym.Pooling(x, (2, 2), "max", name="p").attr_dict() == {"p": {"pool_type": "max", "kernel": "(2, 2)"}}
    bn = sn.sym.BatchNorm(x, None, None, None, None, 1e-3, name="bn")
    assert bn.list_arguments() == ["x", "bn_gamma", "bn_beta"]
    assert bn.list_auxiliary_states() == ["bn_moving_mean", "bn_moving_var"]
    assert bn.attr_dict()["bn"] == {"eps": "0.001"}
    assert sn.sym.Concat(x, w, dim=0, name="cc").attr_dict() == {"cc": {"num_args": "2", "dim": "0"}}
    assert sn.sym.softmax(x, None, 0, name="s").attr_dict() == {"s": {"axis": "0"}}   # (data, length, axis)
    # MXNet: TypeError (too many / multiple values); symnorm names the op and the argument
    with pytest.raises(sn.errors.ParamError, match="at most 5 positional arguments \\(data, p, mode, axes, cudnn_off\\), got 6"):
        sn.sym.Dropout(x, 0.3, "always", (1,), False, 5, name="d")
    with pytest.raises(sn.errors.ParamError, match="multiple values for 'p'"):
        sn.sym.Dropout(x, 0.3, p=0.2)
    with pytest.raises(TypeError, match="positional input 0 \\(data\\) must be a Symbol"):
        sn.sym.Dropout(0.5)


def test_hidden_attributes_as_mxnet_stores_them():
    """lr_mult=/wd_mult=/ctx_group= and dunder keywords on op constructors, attr= with
    hidden or dunder keys, AttrScope's hidden keys and var(shape=1): the node's and the
    created variables' attributes and the JSON are MXNet 1.9.1's."""
    import json
    x = sn.sym.var("x")
    both = {"num_hidden": "3", "__lr_mult__": "2", "lr_mult": "2", "__wd_mult__": "0.5", "wd_mult": "0.5"}
    fc = sn.sym.FullyConnected(x, num_hidden=3, lr_mult=2, __wd_mult__=0.5, name="f")
    assert fc.attr_dict() == {"f": both, "f_weight": both, "f_bias": both}
    nodes = json.loads(fc.tojson())["nodes"]
    assert nodes[1]["attrs"] == {"__lr_mult__": "2", "__wd_mult__": "0.5", "num_hidden": "3"}
    lay = {"num_hidden": "3", "__layout__": "NC"}
    assert sn.sym.FullyConnected(x, num_hidden=3, __layout__="NC", name="f").attr_dict() \
        == {"f": lay, "f_weight": lay, "f_bias": lay}
    group = {"num_hidden": "3", "__ctx_group__": "dev1", "ctx_group": "dev1"}
    for kw in ({"ctx_group": "dev1"}, {"attr": {"__ctx_group__": "dev1"}}, {"attr": {"ctx_group": "dev1"}}):
        assert sn.sym.FullyConnected(x, num_hidden=3, name="f", **kw).attr_dict() \
            == {"f": group, "f_weight": group, "f_bias": group}, kw
    with sn.AttrScope(ctx_group="g", lr_mult="3"):
        v = sn.sym.var("v")
    assert v.attr_dict() == {"v": {"__lr_mult__": "3", "lr_mult": "3", "__ctx_group__": "g", "ctx_group": "g"}}
    assert json.loads(v.tojson())["nodes"][0]["attrs"] == {"__ctx_group__": "g", "__lr_mult__": "3"}
    one = sn.sym.var("v", shape=1, lr_mult=2.5)
    assert one.attr_dict() == {"v": {"__lr_mult__": "2.5", "lr_mult": "2.5", "__shape__": "1"}}
    assert one.infer_shape() == ([(1,)], [(1,)], []) and (one * 2).infer_shape()[1] == [(1,)]
    # the optimizer reads a multiplier given on the op for the weights it created
    opt = sn.optimizer.SGD(sym=sn.sym.FullyConnected(x, num_hidden=3, lr_mult=2, name="f"),
                           param_idx2name={0: "f_weight"})
    assert opt._get_lr(0) == 0.02
    with pytest.raises(sn.errors.ParamError, match="cannot find argument 'foo'"):
        sn.sym.FullyConnected(x, num_hidden=3, foo=1)
    with pytest.raises(sn.errors.ParamError, match="must be a dunder key"):
        sn.sym.FullyConnected(x, num_hidden=3, attr={"foo": "bar"})


def test_test_utils_helpers_as_mxnet(capfd):
    """sn.test_utils' helpers for users' tests: MXNet 1.9.1's results on the same calls
    (numpy's global generator seeded as there)."""
    tu = sn.test_utils
    np.random.seed(0)
    assert (tu.rand_shape_2d(), tu.rand_shape_3d(), tu.rand_shape_nd(4),
            tu.rand_shape_nd(3, dim=2, allow_zero_size=True), tu.rand_shape_2d(5, 3, True)) \
        == ((6, 1), (4, 4, 8), (10, 4, 6, 3), (0, 2, 0), (0, 0))
    np.random.seed(1)
    a = tu.rand_ndarray((2, 3))
    assert a.dtype == np.float32 and a.shape == (2, 3) and type(a) is sn.nd.NDArray
    np.testing.assert_array_equal(a, np.float32([[1.6243454217910767, -0.6117563843727112, -0.5281717777252197],
                                                 [-1.072968602180481, 0.8654076457023621, -2.3015387058258057]]))
    b = tu.rand_ndarray((2,), dtype="float64")       # drawn in float32, then cast (as MXNet)
    assert b.dtype == np.float64 and b.tolist() == [1.744811773300171, -0.7612069249153137]
    with pytest.raises(NotImplementedError, match="sparse"):
        tu.rand_ndarray((2, 2), stype="csr")
    assert tu.default_context() == sn.cpu()

    f32 = np.array([1.0, 2.0], np.float32)
    tu.assert_almost_equal(f32, f32 + np.float32(5e-4))              # float32: rtol 1e-4, atol 1e-3
    tu.assert_almost_equal(f32, np.array([1.0, 2.0]) + 1e-4)          # the looser dtype's tolerance
    tu.assert_almost_equal(f32, f32 + 0.01, atol=0.02)
    tu.assert_almost_equal(f32, f32 * 1.01, rtol={np.dtype(np.float32): 0.02})
    with pytest.raises(AssertionError) as err:
        tu.assert_almost_equal(f32, f32 + np.float32(2e-3), names=("got", "want"))
    assert "Error 1.817828 exceeds tolerance rtol=1.000000e-04, atol=1.000000e-03 (mismatch 100.000000%)" \
        in str(err.value) and "Location of maximum error: (0,), got=1.00000000, want=1.00199997" in str(err.value)
    # almost_equal's defaults are float64's whatever the dtype (MXNet: False, True, True)
    assert (tu.almost_equal(f32, f32 + 1e-4), tu.almost_equal(np.array([1.0]), np.array([1.0 + 1e-6])),
            tu.almost_equal([1, 2], [1, 2.00001], atol=1e-3)) == (False, True, True)
    assert (tu.same(np.array([1, 2]), np.array([1, 2])), tu.same(np.array([1, 2]), np.array([1, 3])),
            tu.same(np.zeros(2), np.zeros(3)), tu.same([np.nan], [np.nan])) == (True, False, False, False)

    import os
    os.environ["SN_TU_KEEP"] = "old"
    with tu.environment({"SN_TU_NEW": "1", "SN_TU_KEEP": None}):
        assert os.environ.get("SN_TU_NEW") == "1" and "SN_TU_KEEP" not in os.environ
    assert "SN_TU_NEW" not in os.environ and os.environ.pop("SN_TU_KEEP") == "old"
    with pytest.raises(RuntimeError), tu.environment("SN_TU_NEW", "2"):
        assert os.environ["SN_TU_NEW"] == "2"
        raise RuntimeError("restored even so")
    assert "SN_TU_NEW" not in os.environ
    capfd.readouterr()
    with tu.discard_stderr():
        os.write(2, b"hidden\n")
    os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"
