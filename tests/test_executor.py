"""The executor: binding, grad_req, blocking, the aux write-back contract, atomic failure,
reshape, copy_params_from, monitor, memory plan."""
import warnings

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym


def bn_net(**kw):
    return sym.BatchNorm(sym.Variable("data"), name="bn", fix_gamma=False, **kw)


def bound_bn(rng, shape=(6, 3), **kw):
    ex = bn_net(**kw).simple_bind(sn.cpu(), data=shape)
    ex.arg_dict["data"][:] = rng.randn(*shape)
    ex.arg_dict["bn_gamma"][:] = 1.5
    ex.aux_dict["bn_moving_var"][:] = 1
    return ex


# ------------------------------------------------------------------ binding

def test_simple_bind_allocates_zeros_and_respects_type_dict():
    ex = bn_net().simple_bind(sn.cpu(), type_dict={"data": "float64"}, data=(4, 3))
    for arrs in (ex.arg_dict, ex.grad_dict, ex.aux_dict):
        for a in arrs.values():
            assert a.dtype == np.float64 and not a.any()
    assert list(ex.arg_dict) == ["data", "bn_gamma", "bn_beta"]
    assert list(ex.output_dict) == ["bn_output"]
    assert [a.shape for a in ex.outputs] == [(4, 3)]


def test_simple_bind_errors():
    with pytest.raises(sn.BindError, match="grad_req=bogus is not a valid input"):
        bn_net().simple_bind(sn.cpu(), grad_req="bogus", data=(4, 3))
    with pytest.raises(sn.BindError, match="cannot decide the shapes of data"):
        bn_net().simple_bind(sn.cpu())
    with pytest.raises(sn.BindError, match="grad_req list"):
        bn_net().simple_bind(sn.cpu(), grad_req=["write"], data=(4, 3))
    with pytest.raises(sn.BindError, match="unknown argument"):
        bn_net().simple_bind(sn.cpu(), grad_req={"nope": "write"}, data=(4, 3))
    dup = sym.Variable("a") + sym.Variable("a")
    with pytest.raises(sn.BindError, match="Duplicate names"):
        dup.simple_bind(sn.cpu(), a=(2,))


def test_bind_uses_arrays_in_place(rng):
    fc = sym.FullyConnected(sym.Variable("data"), num_hidden=2, name="fc")
    args = {"data": rng.randn(3, 4).astype(np.float32), "fc_weight": rng.randn(2, 4).astype(np.float32),
            "fc_bias": np.zeros(2, np.float32)}
    grads = {"fc_weight": np.zeros((2, 4), np.float32)}
    ex = fc.bind(sn.cpu(), args=args, args_grad=grads)
    # the bound array itself, seen as an NDArray view of it
    assert ex.np_arg_dict["fc_weight"] is args["fc_weight"]
    assert ex.arg_dict["fc_weight"].base is args["fc_weight"]
    assert ex.grad_dict["data"] is None and ex.grad_dict["fc_bias"] is None
    ex.forward(is_train=True)
    ex.backward(np.ones((3, 2), np.float32))
    np.testing.assert_allclose(grads["fc_weight"], np.ones((2, 3)) @ args["data"], rtol=1e-5)
    # lists in list_arguments order work too, and bind without args_grad gives all-None
    ex2 = fc.bind(sn.cpu(), args=[args[k] for k in fc.list_arguments()])
    assert all(v is None for v in ex2.grad_dict.values())


def test_bind_errors(rng):
    fc = sym.FullyConnected(sym.Variable("data"), num_hidden=2, name="fc")
    good = {"data": np.zeros((3, 4), np.float32), "fc_weight": np.zeros((2, 4), np.float32),
            "fc_bias": np.zeros(2, np.float32)}
    with pytest.raises(sn.BindError, match="key `fc_bias` is missing in `args`"):
        fc.bind(sn.cpu(), args={k: v for k, v in good.items() if k != "fc_bias"})
    with pytest.raises(sn.BindError, match=r"fc_weight.*\(2, 5\).*needs \(2, 4\)|inconsistent"):
        fc.bind(sn.cpu(), args=dict(good, fc_weight=np.zeros((2, 5), np.float32)))
    with pytest.raises(sn.BindError, match="'bias'.*inconsistent type, provided float64, inferred float32"):
        fc.bind(sn.cpu(), args=dict(good, fc_bias=np.zeros(2)))
    # names the symbol lacks are skipped, as MXNet does (one dict can serve several symbols)
    fc.bind(sn.cpu(), args=dict(good, extra=np.zeros(1)))
    with pytest.raises(sn.BindError, match="numpy array"):
        fc.bind(sn.cpu(), args=dict(good, fc_bias=[0.0, 0.0]))
    bn = bn_net()
    with pytest.raises(sn.BindError, match="aux_states"):
        bn.bind(sn.cpu(), args={"data": np.zeros((2, 3), np.float32),
                                "bn_gamma": np.zeros(3, np.float32), "bn_beta": np.zeros(3, np.float32)})


# ------------------------------------------------------------------ forward / backward API

def test_forward_kwargs_copy_and_errors(rng):
    ex = bound_bn(rng)
    x = rng.randn(6, 3)
    ex.forward(is_train=False, data=x)
    np.testing.assert_allclose(ex.arg_dict["data"], x.astype(np.float32))
    with pytest.raises(ValueError, match=r"Shape not match! Argument data, need: \(6, 3\), received: \(5, 3\)"):
        ex.forward(data=np.zeros((5, 3)))
    with pytest.raises(TypeError, match="Unknown argument nope"):
        ex.forward(nope=np.zeros(1))


def test_backward_head_gradient_forms(rng):
    x = sym.Variable("x")
    net = sym.Group([sym.FullyConnected(x, num_hidden=2, name="a"),
                     sym.FullyConnected(x, num_hidden=2, name="b", no_bias=True)])
    ex = net.simple_bind(sn.cpu(), x=(3, 4))
    ex.arg_dict["x"][:] = rng.randn(3, 4)
    ex.forward(is_train=True)
    g1, g2 = np.ones((3, 2)), np.full((3, 2), 2.0)
    ex.backward([g1, g2])
    ref = ex.grad_dict["x"].copy()
    ex.backward({"a_output": g1, "b_output": g2})
    np.testing.assert_allclose(ex.grad_dict["x"], ref)
    with pytest.raises(sn.BindError, match="needs a head gradient"):
        ex.backward([g1])
    with pytest.raises(sn.BindError, match="unknown output"):
        ex.backward({"zzz": g1})
    with pytest.raises(sn.BindError, match="shape"):
        ex.backward([np.ones((2, 2)), g2])


def test_backward_before_forward_is_an_error():
    ex = bn_net().simple_bind(sn.cpu(), data=(4, 3))
    with pytest.raises(sn.BindError, match="before any forward"):
        ex.backward(np.ones((4, 3)))


def test_grad_req_write_add_null(rng):
    fc = sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc")
    x, w, og = rng.randn(4, 5), rng.randn(3, 5), rng.randn(4, 3)
    one_step = None
    for req in ("write", "add", ["null", "add", "write"], {"fc_weight": "write"}):
        ex = fc.simple_bind(sn.cpu(), grad_req=req, data=(4, 5))
        ex.arg_dict["data"][:] = x
        ex.arg_dict["fc_weight"][:] = w
        for _ in range(3):
            ex.forward(is_train=True)
            ex.backward([og])
        gw = og.T @ x
        if req == "write":
            one_step = ex.grad_dict["fc_weight"].copy()
            np.testing.assert_allclose(one_step, gw, rtol=1e-5)
        elif req == "add":
            np.testing.assert_allclose(ex.grad_dict["fc_weight"], 3 * gw, rtol=1e-5)
        elif isinstance(req, list):
            assert ex.grad_dict["data"] is None
            np.testing.assert_allclose(ex.grad_dict["fc_weight"], 3 * gw, rtol=1e-5)
            np.testing.assert_allclose(ex.grad_dict["fc_bias"], og.sum(0), rtol=1e-5)
        else:
            assert ex.grad_dict["data"] is None and ex.grad_dict["fc_bias"] is None


def test_write_zero_fills_arguments_that_receive_no_gradient(rng):
    x, y = sym.Variable("x"), sym.Variable("y")
    net = x * 2 + sym.BlockGrad(y)
    ex = net.simple_bind(sn.cpu(), x=(2,), y=(2,))
    ex.grad_dict["y"][:] = 7
    ex.forward(is_train=True)
    ex.backward([np.ones(2)])
    assert not ex.grad_dict["y"].any()
    ex = net.simple_bind(sn.cpu(), grad_req="add", x=(2,), y=(2,))
    ex.grad_dict["y"][:] = 7
    ex.forward(is_train=True)
    ex.backward([np.ones(2)])
    np.testing.assert_allclose(ex.grad_dict["y"], 7)        # 'add': left alone


def test_blockgrad_prunes_backward():
    """BlockGrad's input never receives a gradient and the op above it never runs backward."""
    calls = []
    x = sym.Variable("x")
    net = sym.BlockGrad(sym.exp(x)) * x
    ex = net.simple_bind(sn.cpu(), x=(3,))
    exp_node = [n for n in ex.plan.op_nodes if n.op.op_name == "exp"][0]
    orig = type(exp_node.op).backward
    type(exp_node.op).backward = lambda self, s, dy: calls.append(1) or orig(self, s, dy)
    try:
        ex.arg_dict["x"][:] = [0.0, 1.0, 2.0]
        ex.forward(is_train=True)
        ex.backward([np.ones(3)])
    finally:
        type(exp_node.op).backward = orig
    assert calls == []
    np.testing.assert_allclose(ex.grad_dict["x"], np.exp([0.0, 1.0, 2.0]), rtol=1e-6)


def test_loss_heads_need_no_head_gradient_and_ignore_given_ones(rng):
    so = sym.SoftmaxOutput(sym.Variable("data"), name="softmax")
    grads = []
    for og in (None, [np.full((2, 3), 7.0)]):
        ex = so.simple_bind(sn.cpu(), data=(2, 3))
        ex.arg_dict["data"][:] = [[1, 2, 3], [0, 0, 1]]
        ex.arg_dict["softmax_label"][:] = [2, 0]
        ex.forward(is_train=True)
        ex.backward(og)
        grads.append(ex.grad_dict["data"].copy())
        assert not ex.grad_dict["softmax_label"].any()
    np.testing.assert_allclose(grads[0], grads[1])


# ------------------------------------------------------------------ aux write-back contract

def test_aux_untouched_by_forward_committed_by_backward(rng):
    ex = bound_bn(rng)
    mm0, mv0 = ex.aux_dict["bn_moving_mean"].copy(), ex.aux_dict["bn_moving_var"].copy()
    ex.forward(is_train=True)
    np.testing.assert_array_equal(ex.aux_dict["bn_moving_mean"], mm0)
    ex.backward([np.ones((6, 3))])
    x = ex.arg_dict["data"].astype(np.float64)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_mean"], mm0 * 0.9 + x.mean(0) * 0.1, rtol=1e-5)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_var"], mv0 * 0.9 + x.var(0) * 0.1, rtol=1e-5)


def test_aux_committed_in_place_into_user_arrays(rng):
    ex = bound_bn(rng)
    held = ex.aux_dict["bn_moving_mean"]
    ex.forward(is_train=True)
    ex.backward([np.ones((6, 3))])
    assert held is ex.aux_dict["bn_moving_mean"] and held.any()


def test_exactly_once_per_training_forward(rng):
    ex = bound_bn(rng)
    ex.forward(is_train=True)
    ex.backward([np.ones((6, 3))])
    once = ex.aux_dict["bn_moving_mean"].copy()
    ex.backward([np.ones((6, 3))])                # a second backward commits nothing
    np.testing.assert_array_equal(ex.aux_dict["bn_moving_mean"], once)


def test_training_forward_without_backward_commits_nothing(rng):
    ex = bound_bn(rng)
    before = ex.aux_dict["bn_moving_mean"].copy()
    ex.forward(is_train=True)
    ex.forward(is_train=True, data=rng.randn(6, 3))
    ex.forward(is_train=False)
    ex.backward([np.ones((6, 3))], is_train=False)
    np.testing.assert_array_equal(ex.aux_dict["bn_moving_mean"], before)


def test_update_happens_whatever_the_grad_req(rng):
    """MXNet skips a BatchNorm no gradient flows through; symnorm does not (SPEC §9.1)."""
    ex = bn_net().simple_bind(sn.cpu(), grad_req="null", data=(6, 3))
    ex.arg_dict["data"][:] = rng.randn(6, 3)
    ex.forward(is_train=True)
    ex.backward()                                  # nothing wants a gradient: no head grad needed
    np.testing.assert_allclose(ex.aux_dict["bn_moving_mean"],
                               ex.arg_dict["data"].mean(0) * 0.1, rtol=1e-5)


def test_aux_update_forward_option(rng):
    ex = bn_net().simple_bind(sn.cpu(), aux_update="forward", data=(6, 3))
    ex.arg_dict["data"][:] = rng.randn(6, 3)
    ex.forward(is_train=True)
    after_fwd = ex.aux_dict["bn_moving_mean"].copy()
    np.testing.assert_allclose(after_fwd, ex.arg_dict["data"].mean(0) * 0.1, rtol=1e-5)
    ex.backward([np.ones((6, 3))])
    np.testing.assert_array_equal(ex.aux_dict["bn_moving_mean"], after_fwd)
    with pytest.raises(sn.BindError, match="aux_update"):
        bn_net().simple_bind(sn.cpu(), aux_update="sometimes", data=(6, 3))


def test_shared_aux_variable_sees_old_values_in_both_nodes(rng):
    mm, mv = sym.Variable("mm"), sym.Variable("mv")
    x = sym.Variable("x")
    a = sym.BatchNorm(x, moving_mean=mm, moving_var=mv, use_global_stats=False, name="a")
    b = sym.BatchNorm(x * 2, moving_mean=mm, moving_var=mv, name="b")
    ex = sym.Group([a, b]).simple_bind(sn.cpu(), x=(5, 2))
    ex.arg_dict["x"][:] = rng.randn(5, 2)
    ex.forward(is_train=True)
    ex.backward([np.ones((5, 2)), np.ones((5, 2))])
    # both staged from the same old value 0; the later node in plan order wins
    np.testing.assert_allclose(ex.aux_dict["mm"], 0.1 * (2 * ex.arg_dict["x"]).mean(0), rtol=1e-5)


def test_backward_after_inference_forward_differentiates_inference(rng):
    ex = bound_bn(rng)
    ex.aux_dict["bn_moving_mean"][:] = [0.5, -0.5, 1.0]
    ex.aux_dict["bn_moving_var"][:] = [2.0, 0.5, 1.0]
    ex.forward(is_train=False)
    with pytest.warns(UserWarning, match="inference computation"):
        ex.backward([np.ones((6, 3))])
    expected = 1.5 / np.sqrt(np.array([2.0, 0.5, 1.0]) + 1e-3)
    np.testing.assert_allclose(ex.grad_dict["data"], np.tile(expected, (6, 1)), rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex.backward([np.ones((6, 3))], is_train=False)


# ------------------------------------------------------------------ failure leaves state unchanged

def test_failed_step_leaves_everything_unchanged(rng):
    x = sym.Variable("data")
    net = sym.FullyConnected(sym.BatchNorm(x, fix_gamma=False, name="bn"), num_hidden=2, name="fc")
    net = sym.log(net)            # log of negatives: NaN, caught by nan_check
    ex = net.simple_bind(sn.cpu(), data=(6, 3))
    for k, a in ex.arg_dict.items():
        a[:] = rng.randn(*a.shape)
    with np.errstate(invalid="ignore"):
        ex.forward(is_train=False, data=np.abs(rng.randn(6, 3)))
    ex.nan_check = True
    snapshot = {k: v.copy() for d in (ex.arg_dict, ex.aux_dict) for k, v in d.items()}
    grads = {k: v.copy() for k, v in ex.grad_dict.items()}
    with pytest.raises(FloatingPointError, match="log"), np.errstate(invalid="ignore"):
        ex.forward(is_train=True, data=rng.randn(6, 3) * 5)
    for d in (ex.arg_dict, ex.aux_dict):
        for k, v in d.items():
            np.testing.assert_array_equal(v, snapshot[k], err_msg=k)
    for k, v in ex.grad_dict.items():
        np.testing.assert_array_equal(v, grads[k])


def _softmax_fc(rng):
    """FullyConnected(3) -> SoftmaxOutput bound for (2, 4) data, random weights."""
    so = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc"),
                           name="softmax")
    ex = so.simple_bind(sn.cpu(), data=(2, 4))
    ex.arg_dict["fc_weight"][:] = rng.randn(3, 4)
    return ex


def test_op_exception_is_wrapped_with_node_and_state_kept(rng):
    ex = _softmax_fc(rng)
    ex.forward(is_train=True, data=rng.randn(2, 4), softmax_label=np.array([0, 7]))
    w = ex.arg_dict["fc_weight"].copy()
    before = {k: v.copy() for k, v in ex.grad_dict.items()}
    with pytest.raises(sn.OpError, match="SoftmaxOutput 'softmax'.*label 7 is outside"):
        ex.backward()
    np.testing.assert_array_equal(ex.arg_dict["fc_weight"], w)
    for k, v in ex.grad_dict.items():
        np.testing.assert_array_equal(v, before[k])


def test_failed_backward_does_not_commit_aux(rng):
    x = sym.Variable("data")
    net = sym.SoftmaxOutput(sym.BatchNorm(x, fix_gamma=False, name="bn"), name="sm")
    ex = net.simple_bind(sn.cpu(), data=(4, 3))
    ex.forward(is_train=True, data=rng.randn(4, 3), sm_label=np.array([0, 1, 9, 2]))
    with pytest.raises(sn.OpError):
        ex.backward()
    assert not ex.aux_dict["bn_moving_mean"].any()


# ------------------------------------------------------------------ reshape, copy, monitor

def test_reshape_shares_parameters(rng):
    fc = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc"),
                           name="softmax")
    ex = fc.simple_bind(sn.cpu(), data=(8, 4))
    small = ex.reshape(data=(4, 4), softmax_label=(4,))
    assert small.np_arg_dict["fc_weight"] is ex.np_arg_dict["fc_weight"]
    assert small.arg_dict["data"].shape == (4, 4)
    with pytest.raises(sn.BindError, match="larger than original"):
        ex.reshape(data=(16, 4), softmax_label=(16,))
    big = ex.reshape(allow_up_sizing=True, data=(16, 4), softmax_label=(16,))
    assert big.arg_dict["data"].shape == (16, 4)
    with pytest.raises(sn.BindError, match="softmax_label changed.*partial_shaping"):
        ex.reshape(data=(4, 4))
    assert ex.reshape(partial_shaping=True, data=(4, 4)).arg_dict["softmax_label"].shape == (4,)


def test_copy_params_from(rng):
    ex = bound_bn(rng)
    ex.copy_params_from({"bn_gamma": np.full(3, 2.0)}, {"bn_moving_var": np.full(3, 3.0)})
    np.testing.assert_allclose(ex.arg_dict["bn_gamma"], 2)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_var"], 3)
    with pytest.raises(ValueError, match='Find name "nope"'):
        ex.copy_params_from({"nope": np.zeros(1)})
    ex.copy_params_from({"nope": np.zeros(1)}, allow_extra_params=True)
    with pytest.raises(sn.BindError, match="shape"):
        ex.copy_params_from({"bn_gamma": np.zeros(4), "bn_beta": np.ones(3)})
    assert not ex.arg_dict["bn_beta"].any()            # nothing copied on failure


def test_monitor_sees_every_output(rng):
    net = sym.Activation(sym.FullyConnected(sym.Variable("x"), num_hidden=2, name="fc"),
                         act_type="relu", name="relu")
    ex = net.simple_bind(sn.cpu(), x=(3, 4))
    seen = []
    ex.set_monitor_callback(lambda name, arr: seen.append((name, arr.shape)))
    ex.forward()
    assert seen == [("fc_output", (3, 2)), ("relu_output", (3, 2))]
    seen.clear()
    ex.set_monitor_callback(lambda name, arr: seen.append(name), monitor_all=True)
    ex.forward()
    # MXNet 1.9.1 (MXNET_SUBGRAPH_BACKEND=NONE): a variable input under its own name, then
    # each input as <node>_<slot> (its Activation calls the input 'relu_input0', symnorm
    # 'relu_data')
    assert seen[:7] == ["x", "fc_data", "fc_weight", "fc_weight", "fc_bias", "fc_bias",
                        "fc_output"]


def test_repr_shows_mode_and_debug_str(rng):
    ex = bound_bn(rng)
    assert "no forward yet" in repr(ex)
    ex.forward(is_train=True)
    assert "training" in repr(ex)
    ex.forward()
    assert "inference" in repr(ex)
    assert "BatchNorm" in ex.debug_str() and "MiB" in ex.memory_report()


def test_outputs_do_not_alias_arguments(rng):
    ex = sym.Reshape(sym.Variable("x"), shape=(-1,)).simple_bind(sn.cpu(), x=(2, 3))
    ex.arg_dict["x"][:] = 1
    out = ex.forward()[0]
    ex.arg_dict["x"][:] = 5
    assert (out == 1).all()


# ------------------------------------------------------------------ memory plan

def test_inference_on_a_long_chain_holds_a_bounded_number_of_buffers():
    y = sym.Variable("x")
    for i in range(200):
        y = sym.Activation(y * 1.0001, act_type="relu") if i % 2 else y + 0.0
    ex = y.simple_bind(sn.cpu(), grad_req="null", x=(16, 16))
    assert len(ex.plan.op_nodes) == 300
    assert ex.peak_live_activations() <= 2
    live = []
    orig = ex._run

    def spy(train, feeds, save):
        values = orig(train, feeds, save)
        live.append(sum(v is not None for v in values))
        return values
    ex._run = spy
    ex.forward()
    assert live[0] <= 3                       # the argument and the head, nothing else left
    assert ex._saved is None                  # inference keeps no backward state


def test_training_forward_saves_only_the_grad_path(rng):
    x, w = sym.Variable("x"), sym.Variable("w")
    net = sym.BlockGrad(sym.exp(x)) * w
    ex = net.simple_bind(sn.cpu(), grad_req={"w": "write"}, x=(3,), w=(3,))
    ex.forward(is_train=True)
    saved_ops = {ex.plan.op_nodes[i].op.op_name for i, v in enumerate(ex._saved) if v is not None}
    assert saved_ops == {"elemwise_mul"}


# ------------------------------------------------------------------ in-place execution

def test_inplace_inference_matches_and_is_planned(rng):
    x = sym.Variable("data")
    c = sym.Convolution(x, kernel=(3, 3), num_filter=4, name="c")
    net = sym.Activation(sym.BatchNorm(c, fix_gamma=False, name="bn"), act_type="relu") * 2.0 + 1.0
    ex = net.simple_bind(sn.cpu(), data=(2, 3, 6, 6))
    for k, a in ex.arg_dict.items():
        a[...] = rng.randn(*a.shape)
    ex.aux_dict["bn_moving_var"][:] = 1.5
    inplace = [n.op.op_name for n, ok in zip(ex.plan.op_nodes, ex.plan.inplace) if ok]
    assert inplace == ["BatchNorm", "Activation", "_mul_scalar", "_plus_scalar"]
    # the layout pass runs c, bn and relu batch-last between two transposes
    assert "4 of 7 op nodes" in ex.memory_report()
    on = ex.forward()[0].copy()
    ex.inplace = False
    off = ex.forward()[0].copy()
    np.testing.assert_array_equal(on, off)


def test_relu6_clips_in_place_in_inference_only(rng):
    x = sym.Variable("data")
    net = sym.clip(sym.BatchNorm(x, fix_gamma=False, name="bn"), a_min=0.0, a_max=6.0, name="r6") * 1.0
    ex = net.simple_bind(sn.cpu(), data=(4, 3, 5))
    ex.arg_dict["data"][...] = rng.randn(4, 3, 5) * 5
    ex.arg_dict["bn_gamma"][...] = 4.0
    planned = {n.name: (inf, tr) for n, inf, tr in zip(ex.plan.op_nodes, ex.plan.inplace, ex.plan.inplace_train)}
    assert planned["r6"] == (True, False)        # training keeps x for the gradient mask
    on = ex.forward()[0].copy()
    ex.inplace = False
    np.testing.assert_array_equal(ex.forward()[0], on)
    ex.inplace = True
    ex.forward(is_train=True)
    ex.backward([np.ones((4, 3, 5))])
    g = ex.grad_dict["data"].copy()
    ex.inplace = False
    ex.forward(is_train=True)
    ex.backward([np.ones((4, 3, 5))])
    np.testing.assert_array_equal(ex.grad_dict["data"], g)


def test_inplace_never_overwrites_bound_shared_or_viewed_values(rng):
    x = sym.Variable("x")
    y = sym.exp(x)                                   # fresh output
    net = sym.Group([sym.Activation(y, act_type="relu") + y,       # y read twice
                     sym.Activation(x, act_type="tanh"),             # x is bound
                     sym.Activation(sym.Reshape(sym.exp(x), shape=(-1,)), act_type="sigmoid"),
                     sym.exp(x) * 3.0])
    ex = net.simple_bind(sn.cpu(), x=(2, 3))
    xv = rng.randn(2, 3)
    ex.arg_dict["x"][:] = xv
    got = [o.copy() for o in ex.forward()]
    np.testing.assert_allclose(ex.arg_dict["x"], xv.astype(np.float32))
    e = np.exp(xv)
    np.testing.assert_allclose(got[0], np.maximum(e, 0) + e, rtol=1e-6)
    np.testing.assert_allclose(got[1], np.tanh(xv), rtol=1e-6)
    np.testing.assert_allclose(got[2], 1 / (1 + np.exp(-e.ravel())), rtol=1e-6)
    np.testing.assert_allclose(got[3], 3 * e, rtol=1e-6)
    names = {n.name: ok for n, ok in zip(ex.plan.op_nodes, ex.plan.inplace)}
    assert not names["activation0"] and not names["activation1"]   # y shared, x bound
    assert not names["activation2"]                                 # input is a view (Reshape)


def test_training_forward_never_runs_in_place(rng):
    x = sym.Variable("x")
    net = sym.Activation(sym.exp(x), act_type="sigmoid")
    ex = net.simple_bind(sn.cpu(), x=(4,))
    ex.arg_dict["x"][:] = rng.randn(4)
    ex.forward(is_train=True)
    ex.backward([np.ones(4)])
    e = np.exp(ex.arg_dict["x"].astype(np.float64))
    s = 1 / (1 + np.exp(-e))
    np.testing.assert_allclose(ex.grad_dict["x"], s * (1 - s) * e, rtol=1e-4, atol=1e-6)


def test_simple_bind_shares_named_arrays_with_shared_exec(rng):
    net = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc"),
                            name="softmax")
    big = net.simple_bind(sn.cpu(), data=(8, 4))
    big.arg_dict["fc_weight"][:] = rng.randn(3, 4)
    small = net.simple_bind(sn.cpu(), data=(2, 4), shared_exec=big,
                            shared_arg_names=["fc_weight", "fc_bias"])
    assert small.np_arg_dict["fc_weight"] is big.np_arg_dict["fc_weight"]
    assert small.np_grad_dict["fc_weight"] is big.np_grad_dict["fc_weight"]
    assert small.np_arg_dict["data"] is not big.np_arg_dict["data"]        # shapes differ: own array
    small.forward(is_train=True, data=rng.randn(2, 4), softmax_label=np.array([0, 2]))
    small.backward()
    assert big.grad_dict["fc_weight"].any()                          # gradients land in shared buffers


def test_training_runs_in_place_only_where_backward_state_survives(rng):
    x = sym.Variable("data")
    c = sym.Convolution(x, kernel=(3, 3), num_filter=4, name="c")
    s = sym.Activation(sym.BatchNorm(c, fix_gamma=False, name="bn"), act_type="sigmoid", name="s")
    r = sym.Activation(s, act_type="relu", name="r")      # its producer keeps y for backward
    m = sym.Pooling(sym.Activation(r * 2.0, act_type="tanh", name="t"), kernel=(2, 2), pool_type="max", name="p")
    net = sym.MakeLoss(sym.sum(sym.Activation(m, act_type="relu", name="r2") + 1.0))
    ex = net.simple_bind(sn.cpu(), data=(2, 3, 6, 6))
    plan = ex.plan
    in_place = {n.name for n, ok in zip(plan.op_nodes, plan.inplace_train) if ok}
    # sigmoid over BatchNorm's output, tanh over a scalar op's; not relu over sigmoid
    # (sigmoid keeps y), not relu over max pooling (it keeps its output), not BatchNorm
    assert {"s", "t"} <= in_place and not in_place & {"r", "r2", "bn"}
    assert any(n.op.op_name == "_mul_scalar" for n, ok in zip(plan.op_nodes, plan.inplace_train) if ok)
    for a in ex.arg_dict.values():
        a[...] = rng.randn(*a.shape)
    runs = []
    for inplace in (True, False):
        ex.inplace = inplace
        for a in ex.aux_dict.values():
            a[...] = 1.0
        out = [o.copy() for o in ex.forward(is_train=True)]
        ex.backward()
        runs.append((out, {k: g.copy() for k, g in ex.grad_dict.items()},
                     {k: a.copy() for k, a in ex.aux_dict.items()}))
    (o1, g1, a1), (o2, g2, a2) = runs
    np.testing.assert_array_equal(o1[0], o2[0])
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k], err_msg=k)
    for k in a1:
        np.testing.assert_array_equal(a1[k], a2[k], err_msg=k)


def test_a_monitor_sees_inputs_before_any_in_place_write(rng):
    x = sym.Variable("x")
    net = sym.Activation(sym.exp(x), act_type="relu", name="r") * 2.0
    ex = net.simple_bind(sn.cpu(), x=(2, 3))
    ex.arg_dict["x"][:] = rng.randn(2, 3)
    seen = {}
    ex.set_monitor_callback(lambda name, arr: seen.setdefault(name, arr.copy()), monitor_all=True)
    ex.forward()
    np.testing.assert_allclose(seen["r_data"], np.exp(ex.arg_dict["x"]), rtol=1e-6)


def test_training_in_place_spares_an_input_another_reader_saved(rng):
    """BatchNorm's output feeds a FullyConnected (which keeps its input for the weight
    gradient) and a sigmoid: the sigmoid must not overwrite it."""
    x = sym.Variable("data")
    b = sym.BatchNorm(x, fix_gamma=False, name="bn")
    net = sym.MakeLoss(sym.sum(sym.FullyConnected(b, num_hidden=3, name="fc") * 1.0)
                       + sym.sum(sym.Activation(b, act_type="sigmoid", name="s")))
    ex = net.simple_bind(sn.cpu(), data=(5, 4))
    assert not any(ok for n, ok in zip(ex.plan.op_nodes, ex.plan.inplace_train) if n.name == "s")
    for a in ex.arg_dict.values():
        a[...] = rng.randn(*a.shape)
    grads = []
    for inplace in (True, False):
        ex.inplace = inplace
        ex.forward(is_train=True)
        ex.backward()
        grads.append(ex.grad_dict["fc_weight"].copy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_compiled_forward_names_the_failing_node_and_changes_nothing(rng, monkeypatch):
    """After the first (checked) run of a mode the forward runs as compiled straight-line
    code; an op failing there is reported like in the loop, and nothing is committed."""
    from symnorm.ops.activation import Activation
    real, fail = Activation.forward, {"now": False}

    def flaky(self, data, *, train):
        if fail["now"]:
            raise RuntimeError("boom")
        return real(self, data, train=train)
    monkeypatch.setattr(Activation, "forward", flaky)
    x = sym.Variable("data")
    # softrelu: its kernel runs the op's own forward
    net = sym.Activation(sym.BatchNorm(x, fix_gamma=False, name="bn"), act_type="softrelu", name="act")
    ex = net.simple_bind(sn.cpu(), data=(4, 3))
    ex.arg_dict["data"][:] = rng.randn(4, 3)
    ex.forward(is_train=True)
    ex.backward(np.ones((4, 3)))
    good = ex.forward(is_train=True)[0].copy()               # the compiled path from here
    assert ex._compiled
    aux = {k: v.copy() for k, v in ex.aux_dict.items()}
    fail["now"] = True
    with pytest.raises(sn.OpError, match=r"forward of Activation 'act' failed: RuntimeError: boom"
                                         r"(.|\n)*input shapes: \(4, 3\)"):
        ex.forward(is_train=True, data=rng.randn(4, 3))
    fail["now"] = False
    for k, v in ex.aux_dict.items():
        np.testing.assert_array_equal(v, aux[k])
    np.testing.assert_array_equal(ex.outputs[0], good)      # still the last good forward's
    np.testing.assert_allclose(ex.forward(is_train=True)[0], good)


@pytest.mark.parametrize("req", ["write", "add"])
def test_compiled_backward_equals_the_interpreted_one(rng, req):
    """The first backward of a mode interprets the steps (and checks shapes); later ones run
    compiled code: accumulation into shared entries and arguments, loss heads, an argument
    that is also a head, blocked outputs and direct writes into gradient buffers agree."""
    x, w = sym.Variable("data"), sym.Variable("w")
    h = sym.FullyConnected(x, num_hidden=4, name="fc")
    bn = sym.BatchNorm(h, fix_gamma=False, output_mean_var=True, name="bn")
    a = sym.Activation(bn[0], act_type="tanh") + h * 2.0 + x * w        # h and x used twice
    loss = sym.SoftmaxOutput(a, name="softmax")
    net = sym.Group([loss, sym.MakeLoss(sym.sum(a * a)), w])              # w is also a head
    ex = net.simple_bind(sn.cpu(), grad_req=req, data=(5, 4), w=(5, 4))
    for k, v in ex.arg_dict.items():
        v[...] = rng.randint(0, 4, v.shape) if k == "softmax_label" else rng.randn(*v.shape)
    heads = [None, None, rng.randn(5, 4)]
    ex.forward(is_train=True)
    results = []
    for _ in range(2):                    # interpreted, then compiled
        for g in ex.grad_dict.values():
            if g is not None:
                g[...] = 1.0
        ex.backward(heads)
        results.append({k: g.copy() for k, g in ex.grad_dict.items() if g is not None})
    assert "bwd" in ex._compiled
    for k in results[0]:
        np.testing.assert_array_equal(results[1][k], results[0][k], err_msg=k)


def test_compiled_backward_names_the_failing_node(rng):
    ex = _softmax_fc(rng)
    ex.forward(is_train=True, data=rng.randn(2, 4), softmax_label=np.array([0, 2]))
    ex.backward()                                            # interpreted
    before = {k: v.copy() for k, v in ex.grad_dict.items()}
    ex.forward(is_train=True, softmax_label=np.array([0, 7]))
    with pytest.raises(sn.OpError, match="backward of SoftmaxOutput 'softmax' failed.*label 7"):
        ex.backward()                                        # compiled
    assert "bwd" in ex._compiled
    for k, v in ex.grad_dict.items():
        np.testing.assert_array_equal(v, before[k])
