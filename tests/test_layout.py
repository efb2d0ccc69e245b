"""The batch-last layout pass (symnorm.layout): what it rewrites, what it leaves alone, and
that executors with and without it compute the same values, gradients and aux updates."""
import numpy as np
import pytest

import symnorm as sn
from symnorm import layout, sym


def _lenet():
    x = sym.Variable("data")
    net = sym.Convolution(x, kernel=(5, 5), num_filter=6, name="conv1")
    net = sym.Activation(sym.BatchNorm(net, fix_gamma=False, name="bn1"), act_type="sigmoid", name="sig1")
    net = sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool1")
    net = sym.Convolution(net, kernel=(5, 5), num_filter=16, name="conv2")
    net = sym.Activation(sym.BatchNorm(net, fix_gamma=False, name="bn2"), act_type="sigmoid", name="sig2")
    net = sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool2")
    net = sym.FullyConnected(sym.Flatten(net, name="flat"), num_hidden=10, name="fc")
    return sym.SoftmaxOutput(net, name="softmax")


def _rich_net():
    """Padding, strides, dilation, groups, depthwise, max/avg/sum pooling, fix_gamma."""
    x = sym.Variable("data")
    net = sym.Convolution(x, kernel=(3, 3), pad=(1, 1), stride=(2, 1), num_filter=4, name="c1")
    net = sym.Activation(sym.BatchNorm(net, name="bn1"), act_type="relu", name="r1")
    net = sym.Pooling(net, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max",
                      pooling_convention="full", name="p1")
    net = sym.Convolution(net, kernel=(2, 2), dilate=(2, 1), num_filter=6, num_group=2, name="c2")
    net = sym.Activation(sym.BatchNorm(net, fix_gamma=False, eps=1e-4, name="bn2"), act_type="tanh", name="t2")
    net = sym.Convolution(net, kernel=(3, 3), pad=(1, 1), num_filter=6, num_group=6, name="dw")
    net = sym.Pooling(net, kernel=(2, 2), stride=(1, 1), pad=(1, 1), pool_type="avg",
                      count_include_pad=False, name="p2")
    net = sym.Pooling(net, global_pool=True, pool_type="sum", name="gp")
    net = sym.FullyConnected(sym.Flatten(net), num_hidden=3, name="fc")
    return sym.SoftmaxOutput(net, name="softmax")


def _run_steps(net, shapes, layout_pass, seed=0, steps=2):
    """Outputs, gradients and aux states after ``steps`` training steps, then an inference
    forward, all in float64 so the two layouts can be compared tightly."""
    types = {k: np.float64 for k in shapes}
    ex = net.simple_bind(sn.cpu(), type_dict=types, layout_pass=layout_pass, **shapes)
    rng = np.random.RandomState(seed)
    for k, a in sorted(ex.arg_dict.items()):
        a[...] = rng.randint(0, 3, a.shape) if k.endswith("label") else rng.normal(0, 1, a.shape)
    for a in ex.aux_dict.values():
        a[...] = rng.uniform(0.5, 1.5, a.shape)
    outs = []
    for _ in range(steps):
        outs.append([o.copy() for o in ex.forward(is_train=True)])
        ex.backward()
        for k, g in ex.grad_dict.items():
            if g is not None and not k.endswith("label"):
                ex.arg_dict[k] -= 0.1 * g
    outs.append([o.copy() for o in ex.forward(is_train=False)])
    grads = {k: g.copy() for k, g in ex.grad_dict.items() if g is not None}
    aux = {k: a.copy() for k, a in ex.aux_dict.items()}
    return ex, outs, grads, aux


def _assert_same_run(net, shapes):
    ex_on, outs_on, g_on, aux_on = _run_steps(net, shapes, True)
    ex_off, outs_off, g_off, aux_off = _run_steps(net, shapes, False)
    assert ex_on.plan.symbol is not net, "the pass should have found a region"
    assert ex_off.plan.symbol is net
    for a, b in zip(outs_on, outs_off):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
    assert g_on.keys() == g_off.keys() and aux_on.keys() == aux_off.keys()
    for k in g_on:
        np.testing.assert_allclose(g_on[k], g_off[k], rtol=1e-8, atol=1e-11, err_msg=k)
    for k in aux_on:
        np.testing.assert_allclose(aux_on[k], aux_off[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_lenet_region_is_rewritten_with_one_transpose_each_way():
    net = _lenet()
    shapes = {"data": (8, 1, 28, 28)}
    state = sn.shape.shape_entries(net, (), shapes)[0]
    tstate = sn.shape.type_entries(net, (), {}, default=np.float32)[0]
    fast, fshapes, _, kernels = layout.to_batch_last(net, state, tstate)
    nodes = {n.name: n for n in sn.graph.dfs_postorder(fast.entries) if not n.is_variable}
    ops = {k: n.op for k, n in nodes.items()}
    transposes = sorted(k for k, op in ops.items() if op.op_name == "transpose")
    assert transposes == ["data_to_batch_last", "pool2_to_batch_first"]
    assert ops["data_to_batch_last"].axes == (1, 2, 3, 0)
    assert ops["pool2_to_batch_first"].axes == (3, 0, 1, 2)
    # the layout is a kernel choice: the ops keep their params (nothing reaches the JSON)
    region = ("conv1", "conv2", "pool1", "pool2", "bn1", "bn2")
    assert all(nodes[k] in kernels for k in region)
    assert {kernels[nodes[k]].layout for k in region} <= {"batch_last", "any"}
    assert ops["conv1"] == net.get_internals()["conv1_output"].entries[0].node.op
    assert ops["bn1"].axis == 1 and ops["conv1"].layout is None
    assert nodes["fc"] not in kernels and nodes["flat"] not in kernels
    # stored shapes: batch last inside the region
    assert fshapes[(nodes["conv1"], 0)] == (6, 24, 24, 8)
    assert fshapes[(nodes["pool2_to_batch_first"], 0)] == (8, 16, 4, 4)
    # the same interface: arguments, aux states, outputs
    assert fast.list_arguments() == net.list_arguments()
    assert fast.list_auxiliary_states() == net.list_auxiliary_states()
    assert fast.list_outputs() == net.list_outputs()
    assert net.tojson() == _lenet().tojson()            # the user's graph is untouched


def test_lenet_trains_the_same_with_and_without_the_pass():
    _assert_same_run(_lenet(), {"data": (6, 1, 28, 28)})


def test_rich_2d_net_trains_the_same_with_and_without_the_pass():
    _assert_same_run(_rich_net(), {"data": (5, 2, 11, 9)})


@pytest.mark.parametrize("kernel,data", [((3,), (4, 2, 12)), ((2, 3, 2), (3, 2, 5, 6, 4))])
def test_1d_and_3d_regions(kernel, data):
    x = sym.Variable("data")
    net = sym.Convolution(x, kernel=kernel, num_filter=3, pad=(1,) * len(kernel), name="c")
    net = sym.Activation(sym.BatchNorm(net, fix_gamma=False, name="bn"), act_type="sigmoid")
    net = sym.Pooling(net, kernel=(2,) * len(kernel), stride=(2,) * len(kernel), pool_type="max", name="p")
    net = sym.SoftmaxOutput(sym.FullyConnected(net, num_hidden=4, name="fc"), name="softmax")
    _assert_same_run(net, {"data": data})


def test_heads_stay_channels_first_and_regions_without_a_gain_are_left_alone():
    x = sym.Variable("data")
    conv = sym.Convolution(x, kernel=(3, 3), num_filter=2, name="c")
    pooled = sym.Pooling(conv, kernel=(2, 2), pool_type="max", name="p")
    act = sym.Activation(sym.BatchNorm(x, name="bn"), act_type="relu", name="r")
    net = sym.Group([conv, sym.Flatten(pooled), act])    # conv is a head: not in a region
    ex = net.simple_bind(sn.cpu(), data=(2, 3, 6, 6))
    ops = {n.name: n.op for n in ex.plan.op_nodes}
    layout_of = ex.plan.layout_of
    assert layout_of("c") == "standard"                   # a head keeps its layout
    assert layout_of("p") == "batch_last"                 # pooling still gains on its own
    assert layout_of("bn") == "standard" and "bn_to_batch_last" not in ops   # no gain
    rng = np.random.RandomState(1)
    for a in ex.arg_dict.values():
        a[...] = rng.normal(0, 1, a.shape)
    ref = net.simple_bind(sn.cpu(), data=(2, 3, 6, 6), layout_pass=False)
    ref.copy_params_from(ex.arg_dict, ex.aux_dict)
    for a, b in zip(ex.forward(is_train=True), ref.forward(is_train=True)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_monitor_sees_the_graph_as_written():
    net = _lenet()
    seen = {}
    ex = net.simple_bind(sn.cpu(), data=(4, 1, 28, 28))
    assert ex.plan.symbol is not net
    ex.set_monitor_callback(lambda name, arr: seen.setdefault(name, arr.shape))
    ex.forward(is_train=True)
    assert ex.plan.symbol is net
    assert "data_to_batch_last_output" not in seen
    assert seen["conv1_output"] == (4, 6, 24, 24)
    assert seen["pool2_output"] == (4, 16, 4, 4)
    ex.backward()                                        # and training still works


def test_switches(monkeypatch):
    net = _lenet()
    assert net.simple_bind(sn.cpu(), data=(2, 1, 28, 28)).plan.symbol is not net
    assert net.simple_bind(sn.cpu(), data=(2, 1, 28, 28), layout_pass=False).plan.symbol is net
    monkeypatch.setenv("SYMNORM_LAYOUT", "nchw")
    assert not layout.enabled()
    assert net.simple_bind(sn.cpu(), data=(2, 1, 28, 28)).plan.symbol is net
    assert net.simple_bind(sn.cpu(), data=(2, 1, 28, 28), layout_pass=True).plan.symbol is not net
    ex = net.bind(sn.cpu(), args={k: np.zeros(s, np.float32) for k, s in
                                  zip(net.list_arguments(), net.infer_shape(data=(2, 1, 28, 28))[0])},
                  aux_states={k: np.ones(s, np.float32) for k, s in
                              zip(net.list_auxiliary_states(), net.infer_shape(data=(2, 1, 28, 28))[2])},
                  layout_pass=True)
    assert ex.plan.symbol is not net
    assert ex.reshape(partial_shaping=True, data=(1, 1, 28, 28)).plan.symbol is not net   # reshape keeps the choice


def test_batch_of_one_inference_in_place_is_safe():
    """With N = 1 the layout transposes are pure reshapes; they must still hand the next op
    a fresh array (in-place inference overwrites it)."""
    net = _lenet()
    ex = net.simple_bind(sn.cpu(), data=(1, 1, 28, 28))
    ref = net.simple_bind(sn.cpu(), data=(1, 1, 28, 28), layout_pass=False)
    rng = np.random.RandomState(2)
    for k, a in ex.arg_dict.items():
        a[...] = rng.normal(0, 1, a.shape)
    for a in ex.aux_dict.values():
        a[...] = rng.uniform(0.5, 1.5, a.shape)
    ref.copy_params_from(ex.arg_dict, ex.aux_dict)
    data = ex.arg_dict["data"].copy()
    np.testing.assert_allclose(ex.forward()[0], ref.forward()[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(ex.arg_dict["data"], data)


def test_residual_and_concat_regions_train_the_same():
    """Residual additions, relu6 (clip), Concat and LeakyReLU keep a region batch-last."""
    x = sym.Variable("data")
    a = sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=4, name="a")
    a = sym.clip(sym.BatchNorm(a, fix_gamma=False, name="bna"), a_min=0.0, a_max=6.0)
    b = sym.Convolution(a, kernel=(3, 3), pad=(1, 1), num_filter=4, name="b")
    b = sym.BatchNorm(b, fix_gamma=False, name="bnb")
    r = sym.LeakyReLU(a + b, act_type="elu", name="res")
    c = sym.Concat(r, sym.Convolution(r, kernel=(1, 1), num_filter=2, name="c"), dim=1, name="cat")
    p = sym.Pooling(c, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="p")
    net = sym.SoftmaxOutput(sym.FullyConnected(p, num_hidden=3, name="fc"), name="softmax")
    shapes = {"data": (3, 2, 6, 6)}
    state = sn.shape.shape_entries(net, (), shapes)[0]
    tstate = sn.shape.type_entries(net, (), {}, default=np.float32)[0]
    ops = [n.op.op_name for n in sn.graph.dfs_postorder(layout.to_batch_last(net, state, tstate)[0].entries)
           if not n.is_variable]
    assert ops.count("transpose") == 2
    _assert_same_run(net, shapes)


def test_the_layout_is_a_kernel_choice_that_never_reaches_the_json():
    """Batch-last is how the plan runs a region, not a param: the ops refuse symnorm's old
    internal layouts, and the JSON of a bound graph is the user's."""
    with pytest.raises(sn.ParamError, match="layout"):
        sym.Convolution(sym.Variable("data"), kernel=(3, 3), num_filter=2, layout="CHWN")
    with pytest.raises(sn.ParamError, match="layout"):
        sym.Pooling(sym.Variable("data"), kernel=(2, 2), layout="CHWN")
    net = _lenet()
    ex = net.simple_bind(sn.cpu(), data=(2, 1, 28, 28))
    assert any(ex.plan.layout_of(n.name) == "batch_last" for n in ex.plan.op_nodes)
    assert "CHWN" not in ex.plan.symbol.tojson() and '"axis": "0"' not in ex.plan.symbol.tojson()
    assert ex.symbol.tojson() == _lenet().tojson()
