"""Shape inference in both directions (issue 16, item 3).

The goldens marked MXNet are MXNet 1.9.1's ``infer_shape_partial`` answers for the same
graphs (0 = unknown dim, its legacy convention, which symnorm's public API keeps).  Where
MXNet learns nothing from a known output (Pooling, the norms, Concat, SliceChannel...),
symnorm goes further; those cases check the shapes a bound graph must have."""
import numpy as np
import pytest

import symnorm as mx
from symnorm.errors import ShapeError

a, b, c = mx.sym.var("a"), mx.sym.var("b"), mx.sym.var("c")

# (graph, given shapes, MXNet 1.9.1's (arg shapes, out shapes)) -- MXNet infers these fully
MXNET_FULL = [
    (lambda: mx.sym.FullyConnected(a, num_hidden=21, name="fc") + c, dict(a=(0, 10), c=(5, 0)),
     ([(5, 10), (21, 10), (21,), (5, 21)], [(5, 21)])),
    (lambda: mx.sym.FullyConnected(a, num_hidden=21, name="fc") + c, dict(a=(0, 2, 5), c=(5, 0)),
     ([(5, 2, 5), (21, 10), (21,), (5, 21)], [(5, 21)])),
    (lambda: mx.sym.FullyConnected(a, num_hidden=21, flatten=False, name="fc") + c,
     dict(a=(0, 3, 10), c=(5, 3, 21)), ([(5, 3, 10), (21, 10), (21,), (5, 3, 21)], [(5, 3, 21)])),
    (lambda: mx.sym.Convolution(a, num_filter=21, kernel=(3, 3), pad=(1, 1), name="conv") + c,
     dict(a=(0, 10, 32, 32), c=(5, 0, 0, 0)),
     ([(5, 10, 32, 32), (21, 10, 3, 3), (21,), (5, 21, 32, 32)], [(5, 21, 32, 32)])),
    (lambda: mx.sym.Activation(a, act_type="relu") + c, dict(a=(0, 0), c=(5, 6)),
     ([(5, 6), (5, 6)], [(5, 6)])),
    (lambda: a * 2 + c, dict(a=(0, 3), c=(2, 3)), ([(2, 3), (2, 3)], [(2, 3)])),
    (lambda: mx.sym.Reshape(a, shape=(-1, 4)) + c, dict(a=(0, 2, 2), c=(3, 4)),
     ([(3, 2, 2), (3, 4)], [(3, 4)])),
    (lambda: mx.sym.Reshape(a, shape=(0, -1)) + c, dict(a=(0, 2, 2), c=(3, 4)),
     ([(3, 2, 2), (3, 4)], [(3, 4)])),
    (lambda: mx.sym.expand_dims(a, axis=1) + c, dict(a=(0, 3), c=(4, 1, 3)),
     ([(4, 3), (4, 1, 3)], [(4, 1, 3)])),
]

# MXNet leaves these partial; the 0s are its answer, symnorm's must be at least as known
MXNET_PARTIAL = [
    (lambda: mx.sym.dot(a, b), dict(a=(0, 3, 4), b=(4, 5)), ([(0, 3, 4), (4, 5)], [(0, 3, 5)])),
    (lambda: mx.sym.batch_dot(a, b), dict(a=(0, 3, 4), b=(0, 4, 5)),
     ([(0, 3, 4), (0, 4, 5)], [(0, 3, 5)])),
    (lambda: mx.sym.Convolution(a, num_filter=21, kernel=(3, 3), pad=(1, 1), name="conv") + c,
     dict(a=(0, 0, 32, 32), c=(5, 0, 0, 0)),
     ([(5, 0, 32, 32), (21, 0, 3, 3), (21,), (5, 21, 32, 32)], [(5, 21, 32, 32)])),
    (lambda: mx.sym.broadcast_add(a, b) + c, dict(a=(0, 4), b=(3, 1), c=(3, 0)),
     ([(0, 4), (3, 1), (3, 4)], [(3, 4)])),
]


@pytest.mark.parametrize("case", range(len(MXNET_FULL)))
def test_infers_what_mxnet_infers(case):
    make, given, (args, outs) = MXNET_FULL[case]
    net = make()
    assert net.infer_shape_partial(**given)[:2] == (args, outs)
    assert net.infer_shape(**given)[:2] == (args, outs)


@pytest.mark.parametrize("case", range(len(MXNET_PARTIAL)))
def test_partial_shapes_as_mxnet(case):
    make, given, expected = MXNET_PARTIAL[case]
    assert make().infer_shape_partial(**given)[:2] == expected


# beyond MXNet: (graph, given, arg shapes symnorm infers)
BEYOND = [
    # batch and channels through Pooling (any window)
    (lambda: mx.sym.Pooling(a, kernel=(2, 2), stride=(2, 2), pool_type="max") + c,
     dict(a=(0, 0, 32, 32), c=(5, 6, 16, 16)), [(5, 6, 32, 32), (5, 6, 16, 16)]),
    (lambda: mx.sym.Deconvolution(a, num_filter=21, kernel=(3, 3), pad=(1, 1), name="d") + c,
     dict(a=(0, 10, 32, 32), c=(5, 21, 32, 32)),
     [(5, 10, 32, 32), (10, 21, 3, 3), (5, 21, 32, 32)]),
    (lambda: mx.sym.BatchNorm(a, name="bn") + c, dict(a=(0, 0, 4, 4), c=(5, 3, 4, 4)),
     [(5, 3, 4, 4), (3,), (3,), (5, 3, 4, 4)]),
    (lambda: mx.sym.BatchNorm(a, name="bn"), dict(a=(0, 0, 4, 4), bn_gamma=(3,)),
     [(0, 3, 4, 4), (3,), (3,)]),
    (lambda: mx.sym.LayerNorm(a) + c, dict(a=(0, 0), c=(4, 3)), [(4, 3), (3,), (3,), (4, 3)]),
    (lambda: mx.sym.Dropout(a) + c, dict(a=(0, 0), c=(4, 3)), [(4, 3), (4, 3)]),
    (lambda: mx.sym.Concat(a, b, dim=1) + c, dict(a=(0, 0), b=(3, 5), c=(0, 7)),
     [(3, 2), (3, 5), (3, 7)]),
    (lambda: mx.sym.Concat(a, b, dim=0) + c, dict(a=(0, 0), b=(3, 5), c=(7, 0)),
     [(4, 5), (3, 5), (7, 5)]),
    (lambda: mx.sym.SliceChannel(a, num_outputs=2, axis=1)[0] + c, dict(a=(0, 0), c=(3, 5)),
     [(3, 10), (3, 5)]),
    (lambda: mx.sym.SliceChannel(a, num_outputs=2, axis=1, squeeze_axis=True)[0] + c,
     dict(a=(0, 0, 4), c=(3, 4)), [(3, 2, 4), (3, 4)]),
    (lambda: mx.sym.Flatten(a) + c, dict(a=(0, 2, 2), c=(3, 4)), [(3, 2, 2), (3, 4)]),
    (lambda: mx.sym.Flatten(a) + c, dict(a=(3, 0, 2), c=(3, 4)), [(3, 2, 2), (3, 4)]),
    (lambda: mx.sym.dot(a, b) + c, dict(a=(0, 3, 4), b=(4, 5), c=(2, 3, 5)),
     [(2, 3, 4), (4, 5), (2, 3, 5)]),
    (lambda: mx.sym.batch_dot(a, b), dict(a=(2, 3, 4), b=(0, 4, 5)), [(2, 3, 4), (2, 4, 5)]),
    (lambda: mx.sym.SoftmaxOutput(a, b, name="sm"), dict(a=(0, 10), b=(5,)), [(5, 10), (5,)]),
    (lambda: mx.sym.transpose(a, axes=(1, 0, 2)) + c, dict(a=(0, 0, 0), c=(4, 3, 6)),
     [(3, 4, 6), (4, 3, 6)]),
    (lambda: mx.sym.squeeze(a, axis=(1,)) + c, dict(a=(0, 1, 3), c=(4, 3)), [(4, 1, 3), (4, 3)]),
    (lambda: mx.sym.slice_axis(a, axis=1, begin=0, end=2) + c, dict(a=(0, 5), c=(2, 2)),
     [(2, 5), (2, 2)]),
    (lambda: mx.sym.Embedding(a, input_dim=10, output_dim=4) + c, dict(a=(0, 3), c=(2, 3, 4)),
     [(2, 3), (10, 4), (2, 3, 4)]),
    (lambda: mx.sym.broadcast_mul(a, b) + c, dict(a=(0, 1), b=(1, 4), c=(3, 4)),
     [(3, 1), (1, 4), (3, 4)]),
]


@pytest.mark.parametrize("case", range(len(BEYOND)))
def test_infers_inputs_from_outputs(case):
    make, given, args = BEYOND[case]
    assert make().infer_shape_partial(**given)[0] == args


def test_bound_graph_runs_with_the_inferred_shapes():
    # a graph whose batch size comes only from the label partner binds and runs
    net = mx.sym.FullyConnected(mx.sym.Flatten(mx.sym.Pooling(
        a, kernel=(2, 2), stride=(2, 2), pool_type="max")), num_hidden=3, name="fc") + c
    ex = net.simple_bind(mx.cpu(), a=(0, 2, 4, 4), c=(6, 3))
    assert ex.arg_dict["a"].shape == (6, 2, 4, 4)
    out = ex.forward(a=np.ones((6, 2, 4, 4)), c=np.zeros((6, 3)))
    assert out[0].shape == (6, 3)


def test_contradiction_found_from_the_output_side():
    # the data's channels come back from the output and contradict the given gamma
    with pytest.raises(ShapeError) as e:
        (mx.sym.BatchNorm(a, name="bn") + c).infer_shape(a=(0, 0, 4, 4), bn_gamma=(3,),
                                                          c=(5, 4, 4, 4))
    assert "inconsistent" in str(e.value) and "bn_gamma=(3,)" in str(e.value)
    # Flatten's output size cannot be made from the known dims
    with pytest.raises(ShapeError) as e:
        (mx.sym.Flatten(a, name="fl") + c).infer_shape(a=(0, 3, 0), c=(5, 7))
    assert "Flatten 'fl'" in str(e.value) and "7 elements" in str(e.value)


def test_concat_parts_larger_than_the_output():
    net = mx.sym.Concat(a, b, dim=1) + c
    with pytest.raises(ShapeError, match="concat"):
        net.infer_shape_partial(a=(3, 0), b=(3, 5), c=(3, 4))


def test_long_chain_infers_backwards_through_every_node():
    # information from the last node reaches the first input through 300 nodes
    x = a
    for _ in range(300):
        x = mx.sym.Activation(x, act_type="relu")
    args, outs, _ = (x + c).infer_shape(a=(0, 0), c=(2, 3))
    assert args == [(2, 3), (2, 3)] and outs == [(2, 3)]


x, y = mx.sym.var("x"), mx.sym.var("y")
conv = lambda **kw: mx.sym.Convolution(a, name="conv", **kw) + c  # noqa: E731

# MXNet 1.9.1's infer_shape_partial (arg shapes, out shapes); np: inside mx.np_shape()
MXNET_MORE = [
    # a stride-1 spatial dim comes back from the output (dilation and pad included)
    (lambda: conv(num_filter=21, kernel=(3, 3), pad=(1, 1)), dict(a=(0, 10, 0, 0), c=(5, 21, 32, 32)),
     False, ([(5, 10, 32, 32), (21, 10, 3, 3), (21,), (5, 21, 32, 32)], [(5, 21, 32, 32)])),
    (lambda: conv(num_filter=4, kernel=(3, 3), dilate=(2, 2)), dict(a=(0, 2, 0, 0), c=(5, 4, 10, 10)),
     False, ([(5, 2, 14, 14), (4, 2, 3, 3), (4,), (5, 4, 10, 10)], [(5, 4, 10, 10)])),
    # stride 2 rounds: the spatial dims stay unknown
    (lambda: conv(num_filter=21, kernel=(3, 3), stride=(2, 2), pad=(1, 1)),
     dict(a=(0, 10, 0, 0), c=(5, 21, 16, 16)), False,
     ([(5, 10, 0, 0), (21, 10, 3, 3), (21,), (5, 21, 16, 16)], [(5, 21, 16, 16)])),
    (lambda: mx.sym.SliceChannel(a, num_outputs=10, axis=1, squeeze_axis=True)[1] + c,
     dict(a=(0, 10), c=(5,)), False, ([(5, 10), (5,)], [(5,)])),
    (lambda: mx.sym.SliceChannel(a, num_outputs=3)[1] + c, dict(a=(0, 15, 0), c=(3, 5, 2)), False,
     ([(3, 15, 2), (3, 5, 2)], [(3, 5, 2)])),
    (lambda: c + mx.sym.Concat(a, b, dim=1), dict(a=(0, 10), b=(0, 5), c=(2, 0)), False,
     ([(2, 15), (2, 10), (2, 5)], [(2, 15)])),
    # NumPy semantics: -1 unknown dim, None unknown shape, 0 a zero-size dim
    (lambda: mx.sym.dot(x, y), dict(x=(-1, 3, 4), y=(4, 5)), True, ([(-1, 3, 4), (4, 5)], [(-1, 3, 5)])),
    (lambda: mx.sym.batch_dot(x, y), dict(x=(-1, 3, 4), y=(-1, -1, 5)), True,
     ([(-1, 3, 4), (-1, -1, 5)], [None])),
    (lambda: mx.sym.sin(x), {}, True, ([None], [None])),
    (lambda: mx.sym.FullyConnected(a, num_hidden=21, name="fc") + c, dict(a=(-1, 10), c=(5, -1)),
     True, ([(5, 10), (21, 10), (21,), (5, 21)], [(5, 21)])),
    (lambda: x + y, dict(x=(0, 3), y=(0, 3)), True, ([(0, 3), (0, 3)], [(0, 3)])),
]


@pytest.mark.parametrize("case", range(len(MXNET_MORE)))
def test_more_partial_shapes_as_mxnet(case):
    make, given, np_mode, expected = MXNET_MORE[case]
    if not np_mode:
        assert make().infer_shape_partial(**given)[:2] == expected
        return
    with mx.np_shape():
        assert make().infer_shape_partial(**given)[:2] == expected
    assert not mx.is_np_shape()


def test_batch_dot_partial_rule_as_mxnet():
    # MXNet 1.9.1: an unknown batch gives a partial result, but nothing is decided until
    # both inner dims are known
    z = mx.sym.batch_dot(x, y)
    assert z.infer_shape_partial(x=(0, 3, 4), y=(0, 4, 5))[1] == [(0, 3, 5)]
    assert z.infer_shape_partial(x=(0, 3, 4), y=(0, 0, 5))[1] == [()]


def test_variable_shape_attribute_with_unknown_dims():
    # shapes given on the variables themselves, the batch from the output's partner
    p, q = mx.sym.var("p", shape=(0, 10)), mx.sym.var("q", shape=(12, 0))
    net = mx.sym.FullyConnected(p, num_hidden=3, name="fc") + mx.sym.var("r", shape=(12, 3))
    assert net.infer_shape()[0][0] == (12, 10)
    assert (mx.sym.Flatten(q) + mx.sym.var("r", shape=(12, 5))).infer_shape()[0][0] == (12, 5)


def test_a_constant_with_open_dims_takes_them_from_the_op_using_it():
    """MXNet 1.9.1 (checked): ``sym.ones(shape=(-1, -1))`` transposed and added to a (2, 3)
    constant binds with no arguments and runs as (3, 2); open and given dims mix."""
    import symnorm as sn
    o1, o2 = sn.sym.ones(shape=(2, 3)), sn.sym.ones(shape=(-1, -1))
    assert o2.infer_shape_partial()[1] == [(0, 0)]
    ex = (o1 + sn.sym.transpose(o2)).bind(sn.cpu(), args={})
    np.testing.assert_array_equal(ex.forward()[0], np.full((2, 3), 2.0))
    mixed = sn.sym.ones(shape=(2, -1)) + sn.sym.transpose(sn.sym.zeros(shape=(3, -1)))
    assert mixed.bind(sn.cpu(), args={}).forward()[0].shape == (2, 3)
    assert mixed.tojson().count('"shape": "(3, -1)"') == 1       # the graph keeps what was written
