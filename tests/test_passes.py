"""freeze_batchnorm and fold_batchnorm."""
import numpy as np
import pytest

import symnorm as sn
from symnorm import sym


def convnet(no_bias=False, fix_gamma=False):
    data = sym.Variable("data")
    net = sym.Convolution(data, kernel=(3, 3), num_filter=4, pad=(1, 1), no_bias=no_bias, name="conv")
    net = sym.BatchNorm(net, fix_gamma=fix_gamma, eps=1e-4, name="bn1")
    net = sym.Activation(net, act_type="relu", name="relu")
    net = sym.FullyConnected(sym.Flatten(net), num_hidden=5, name="fc")
    net = sym.BatchNorm(net, name="bn2", fix_gamma=False)
    return sym.SoftmaxOutput(net, name="softmax")


def random_params(net, rng, shape):
    args, _, aux = net.infer_shape(data=shape)
    ap = {k: rng.randn(*s).astype(np.float32) for k, s in zip(net.list_arguments(), args)
          if k not in ("data", "softmax_label")}
    xp = {k: (rng.rand(*s) + 0.5 if k.endswith("var") else rng.randn(*s)).astype(np.float32)
          for k, s in zip(net.list_auxiliary_states(), aux)}
    return ap, xp


def infer(net, ap, xp, x):
    ex = net.simple_bind(sn.cpu(), grad_req="null", data=x.shape)
    ex.copy_params_from(ap, xp, allow_extra_params=True)
    return ex.forward(data=x)[0]


@pytest.mark.parametrize("no_bias,fix_gamma", [(False, False), (True, False), (False, True)])
def test_fold_matches_unfolded_inference(rng, no_bias, fix_gamma):
    net = convnet(no_bias, fix_gamma)
    shape = (3, 2, 6, 6)
    ap, xp = random_params(net, rng, shape)
    ap["bn1_gamma"] = ap["bn1_gamma"] * 3           # a stored gamma != 1 must be ignored under fix_gamma
    x = rng.randn(*shape).astype(np.float32)
    folded, fa, fx = sn.fold_batchnorm(net, ap, xp)
    ops = [n.op.op_name for n in sn.graph.dfs_postorder(folded.entries) if n.op]
    assert "BatchNorm" not in ops
    assert set(folded.list_arguments()) == {"data", "conv_weight", "conv_bias", "fc_weight",
                                            "fc_bias", "softmax_label"}
    assert folded.list_auxiliary_states() == [] and fx == {}
    np.testing.assert_allclose(infer(folded, fa, fx, x), infer(net, ap, xp, x), rtol=1e-4, atol=1e-5)
    assert net.list_auxiliary_states()          # the input graph is unchanged


def test_fold_skips_batchnorm_with_other_consumers(rng):
    data = sym.Variable("data")
    conv = sym.Convolution(data, kernel=(1, 1), num_filter=2, name="conv")
    net = sym.BatchNorm(conv, name="bn") + conv
    ap, xp = random_params(net, rng, (1, 2, 3, 3))
    folded, fa, fx = sn.fold_batchnorm(net, ap, xp)
    assert folded.list_auxiliary_states() == ["bn_moving_mean", "bn_moving_var"]
    x = rng.randn(1, 2, 3, 3).astype(np.float32)
    np.testing.assert_allclose(infer(folded, fa, fx, x), infer(net, ap, xp, x), rtol=1e-5)


def test_freeze_batchnorm(rng):
    net = convnet()
    frozen, names = sn.freeze_batchnorm(net)
    assert names == ["bn1_gamma", "bn1_beta", "bn2_gamma", "bn2_beta"]
    assert net.get_internals()["bn1_output"].attr("use_global_stats") is None
    assert frozen.get_internals()["bn1_output"].attr("use_global_stats") == "True"
    shape = (4, 2, 6, 6)
    ex = frozen.simple_bind(sn.cpu(), grad_req={k: ("null" if k in names else "write")
                                                for k in frozen.list_arguments()}, data=shape)
    ap, xp = random_params(net, rng, shape)
    ex.copy_params_from(ap, xp)
    ex.forward(is_train=True, data=rng.randn(*shape), softmax_label=np.array([0, 1, 2, 3]))
    ex.backward()
    for k, v in xp.items():                      # statistics neither used from the batch nor updated
        np.testing.assert_array_equal(ex.aux_dict[k], v)
    assert ex.grad_dict["bn1_gamma"] is None and ex.grad_dict["conv_weight"].any()
    assert sn.sym.load_json(frozen.tojson()).tojson() == frozen.tojson()
