"""Shape and type inference: full, partial, both directions, contradictions."""

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym


def conv_net():
    data = sym.Variable("data")
    net = sym.Convolution(data, kernel=(3, 3), num_filter=4, name="conv1")
    net = sym.BatchNorm(net, name="bn1")
    net = sym.FullyConnected(net, num_hidden=3, name="fc")
    return sym.SoftmaxOutput(net, name="softmax")


def test_full_inference_fills_parameters_from_data():
    args, outs, aux = conv_net().infer_shape(data=(2, 3, 8, 8))
    assert args == [(2, 3, 8, 8), (4, 3, 3, 3), (4,), (4,), (4,), (3, 144), (3,), (2,)]
    assert outs == [(2, 3)] and aux == [(4,), (4,)]


def test_positional_shapes_follow_list_arguments():
    net = conv_net()
    assert net.infer_shape((2, 3, 8, 8)) == net.infer_shape(data=(2, 3, 8, 8))


def test_insufficient_information_warns_and_returns_nones():
    with pytest.warns(UserWarning, match="(?s)Cannot decide shape.*data: unknown"):
        assert conv_net().infer_shape(fc_weight=(3, 144)) == (None, None, None)


def test_partial_uses_mxnet_conventions():
    args, outs, aux = conv_net().infer_shape_partial(fc_weight=(3, 144))
    assert args[5] == (3, 144) and args[0] == () and outs == [()]
    args, outs, _ = conv_net().infer_shape_partial(data=(0, 3, 8, 8))
    assert args[0] == (0, 3, 8, 8) and args[-1] == (0,) and outs == [(0, 3)]


def test_contradiction_names_node_slot_and_shapes():
    with pytest.raises(sn.ShapeError) as e:
        conv_net().infer_shape(data=(2, 3, 8, 8), fc_weight=(3, 100))
    msg = str(e.value)
    assert "FullyConnected 'fc'" in msg and "input 'weight'" in msg
    assert "provided (3, 100)" in msg and "inferred (3, 144)" in msg
    assert "data=(2, 3, 8, 8)" in msg


def test_user_gamma_shape_contradicting_data_raises():
    """MXNet silently overwrites it; symnorm refuses (SPEC §8.4)."""
    bn = sym.BatchNorm(sym.Variable("data"), name="bn")
    with pytest.raises(sn.ShapeError, match="BatchNorm 'bn', input 'gamma'.*provided \\(5,\\), inferred \\(4,\\)"):
        bn.infer_shape(data=(2, 4, 3, 3), bn_gamma=(5,))


def test_elementwise_backfill_and_mismatch():
    a, b = sym.Variable("a"), sym.Variable("b")
    assert (a + b).infer_shape(a=(2, 3))[0] == [(2, 3), (2, 3)]
    assert (a + b).infer_shape(b=(2, 3))[0] == [(2, 3), (2, 3)]
    with pytest.raises(sn.ShapeError, match="elemwise_add"):
        (a + b).infer_shape(a=(2, 3), b=(3, 2))


def test_unknown_keyword_raises():
    with pytest.raises(sn.ShapeError, match="nope"):
        conv_net().infer_shape(nope=(1,))


def test_op_shape_errors_name_the_node():
    x = sym.Variable("x")
    with pytest.raises(sn.ShapeError, match="Convolution 'c'.*larger than the padded input"):
        sym.Convolution(x, kernel=(5, 5), num_filter=2, name="c").infer_shape(x=(1, 1, 3, 3))
    with pytest.raises(sn.ShapeError, match="divisible by num_group"):
        sym.Convolution(x, kernel=(1, 1), num_filter=2, num_group=2, name="c").infer_shape(x=(1, 3, 3, 3))
    with pytest.raises(sn.ShapeError, match="Channel axis 4 out of range"):
        sym.BatchNorm(x, axis=4).infer_shape(x=(2, 3, 4, 5))
    with pytest.raises(sn.ShapeError, match="divisible by # of groups"):
        sym.GroupNorm(x, num_groups=3).infer_shape(x=(2, 4, 3))
    with pytest.raises(sn.ShapeError, match="at least 3 dims"):
        sym.GroupNorm(x).infer_shape(x=(2, 4))
    with pytest.raises(sn.ShapeError, match="Incompatible input shape"):
        sym.Concat(x, sym.Variable("y"), dim=1).infer_shape(x=(2, 3), y=(3, 3))
    with pytest.raises(sn.ShapeError, match="cannot infer the -1 dim"):
        sym.Reshape(x, shape=(5, -1)).infer_shape(x=(24,))


def test_bn_axis_variants():
    x = sym.Variable("x")
    for axis, shape, c in ((1, (2, 3, 4, 5), 3), (-1, (2, 3, 4, 5), 5), (3, (2, 3, 4, 5), 5),
                           (2, (3, 5, 4), 4), (-1, (3, 5, 4), 4), (1, (8, 6), 6), (0, (7,), 7)):
        args, _, aux = sym.BatchNorm(x, axis=axis).infer_shape(x=shape)
        assert args[1:] == [(c,), (c,)] and aux == [(c,), (c,)], (axis, shape)


@pytest.mark.parametrize("dt", ["float32", "float64", np.float16])
def test_infer_type(dt):
    targs, touts, taux = conv_net().infer_type(data=dt)
    d = np.dtype(dt).type
    param = np.float32 if d is np.float16 else d
    assert targs[0] is d and touts == [d]
    assert targs[3] is param and taux == [param, param]   # BN params stay float32 for float16


def test_infer_type_without_information():
    with pytest.warns(UserWarning, match="Cannot decide type"):
        assert conv_net().infer_type() == (None, None, None)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod", "nansum"])
def test_a_full_reduction_has_shape_1_as_in_mxnet(op):
    """MXNet 1.9.1 (checked): reducing every axis gives (1,), with keepdims (1, 1); never a
    0-d array, in the shape rule, the executor and mx.nd alike."""
    x = sn.sym.Variable("x")
    assert getattr(sn.sym, op)(x).infer_shape(x=(2, 3))[1] == [(1,)]
    assert getattr(sn.sym, op)(x, keepdims=True).infer_shape(x=(2, 3))[1] == [(1, 1)]
    ex = getattr(sn.sym, op)(x).simple_bind(sn.cpu(), x=(2, 3))
    ex.arg_dict["x"][:] = 2
    assert ex.forward()[0].shape == (1,)
    ex.backward([np.ones(1, np.float32)])
    assert ex.grad_dict["x"].shape == (2, 3)
    assert getattr(sn.nd, op)(sn.nd.ones((2, 3))).shape == (1,)
