"""Module never trains or predicts on silently wrong parameters (issue 15): rebinds keep or
refuse, checkpoints load into the executor, user multipliers survive, schedules give the
rate, updates are all-or-nothing, iterators report padding as MXNet does."""
import signal
import threading

import numpy as np
import pytest

import symnorm as sn
from symnorm.errors import BindError
from symnorm.io import DataBatch


def _mlp(hidden=3):
    data = sn.sym.Variable("data")
    net = sn.sym.FullyConnected(sn.sym.Flatten(data), num_hidden=hidden, name="fc")
    return sn.sym.SoftmaxOutput(net, name="softmax")


def _batch(shape, seed=0):
    rs = np.random.RandomState(seed)
    return DataBatch([rs.rand(*shape).astype(np.float32)], [np.zeros(shape[0], np.float32)])


def _bound(shape=(8, 1, 8, 8)):
    mod = sn.Module(_mlp())
    mod.bind([("data", shape)], [("softmax_label", (shape[0],))])
    mod.init_params(sn.init.Xavier())
    return mod


# ---------------------------------------------------------------- item 1: rebinds
@pytest.mark.parametrize("how", ["forward", "predict", "score", "reshape", "bind"])
def test_a_rebind_that_changes_a_parameter_shape_raises_and_changes_nothing(how):
    mod = _bound()
    arg0, aux0 = mod.get_params()
    exec0 = mod._exec
    other = (4, 1, 9, 9)                  # fc_weight would become (3, 81)
    it = sn.io.NDArrayIter(np.ones(other, np.float32), np.zeros(4), batch_size=4)
    with pytest.raises(BindError, match=r"'fc_weight' would change shape from \(3, 64\) to \(3, 81\)"):
        if how == "forward":
            mod.forward(_batch(other), is_train=False)
        elif how == "predict":
            mod.predict(it)
        elif how == "score":
            mod.score(it, "acc")
        elif how == "reshape":
            mod.reshape([("data", other)], [("softmax_label", (4,))])
        else:
            mod.bind([("data", other)], [("softmax_label", (4,))], force_rebind=True)
    assert mod._exec is exec0 and mod.data_shapes[0].shape == (8, 1, 8, 8)
    mod.forward(_batch((8, 1, 8, 8)), is_train=False)       # the bound shape still runs
    arg1, _ = mod.get_params()
    for k in arg0:
        np.testing.assert_array_equal(arg1[k], arg0[k])
    assert np.abs(arg1["fc_weight"]).sum() > 0


def test_a_rebind_that_keeps_parameter_shapes_keeps_every_trained_value():
    data = sn.sym.Variable("data")
    conv = sn.sym.Convolution(data, num_filter=2, kernel=(3, 3), pad=(1, 1), name="conv")
    bn = sn.sym.BatchNorm(conv, fix_gamma=False, name="bn")
    net = sn.sym.SoftmaxOutput(sn.sym.mean(bn, axis=(2, 3)), name="softmax")
    mod = sn.Module(net)
    mod.bind([("data", (8, 1, 8, 8))], [("softmax_label", (8,))])
    mod.init_params(sn.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1})
    mod.forward_backward(_batch((8, 1, 8, 8)))
    mod.update()
    arg0, aux0 = mod.get_params()
    for shape in [(4, 1, 9, 9), (3, 1, 5, 7), (8, 1, 8, 8)]:     # per-sample shapes change too
        mod.forward(_batch(shape), is_train=False)
        assert mod.get_outputs()[0].shape == (shape[0], 2)
    arg1, aux1 = mod.get_params()
    for a, b in ((arg0, arg1), (aux0, aux1)):
        for k in a:
            np.testing.assert_array_equal(b[k], a[k])


# ---------------------------------------------------------------- item 2: load then bind
def test_module_load_then_bind_runs_on_the_loaded_weights(tmp_path):
    mod = _bound()
    mod.save_checkpoint(str(tmp_path / "m"), 3)
    want = mod.predict(sn.io.NDArrayIter(_batch((8, 1, 8, 8)).data[0], batch_size=8))
    loaded = sn.Module.load(str(tmp_path / "m"), 3)
    loaded.bind([("data", (8, 1, 8, 8))], for_training=False)
    it = sn.io.NDArrayIter(_batch((8, 1, 8, 8)).data[0], np.zeros(8), batch_size=8)
    np.testing.assert_array_equal(loaded.predict(it), want)
    assert loaded.score(it, "acc")[0][0] == "accuracy"
    np.testing.assert_array_equal(loaded.get_params()[0]["fc_weight"], mod.get_params()[0]["fc_weight"])
    loaded.init_params()                     # MXNet: already initialized, ignored
    np.testing.assert_array_equal(loaded.get_params()[0]["fc_weight"], mod.get_params()[0]["fc_weight"])


def test_forward_before_init_params_raises():
    mod = sn.Module(_mlp())
    mod.bind([("data", (8, 1, 8, 8))], [("softmax_label", (8,))])
    with pytest.raises(BindError, match="init_params"):
        mod.forward(_batch((8, 1, 8, 8)))
    with pytest.raises(BindError, match="init_params"):
        mod.predict(sn.io.NDArrayIter(np.ones((8, 1, 8, 8)), batch_size=8))


# ---------------------------------------------------------------- item 3: user multipliers
def test_user_multipliers_on_an_optimizer_object_survive_fit():
    data = sn.sym.Variable("data")
    bn = sn.sym.BatchNorm(sn.sym.FullyConnected(data, num_hidden=4, name="fc"), fix_gamma=False, name="bn")
    net = sn.sym.SoftmaxOutput(sn.sym.FullyConnected(bn, num_hidden=2, name="out"), name="softmax")
    opt = sn.optimizer.SGD(learning_rate=0.5, wd=0.1, rescale_grad=0.125)
    opt.set_lr_mult({"bn_gamma": 0.0, "bn_beta": 0.0})        # the forum's BN freeze
    opt.set_wd_mult({"bn_gamma": 0.0})
    mod = sn.Module(net)
    rs = np.random.RandomState(0)
    it = sn.io.NDArrayIter(rs.rand(16, 5).astype(np.float32), (np.arange(16) % 2).astype(np.float32), batch_size=8)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(sn.init.Xavier())
    gamma0, beta0 = (mod.get_params()[0][k].copy() for k in ("bn_gamma", "bn_beta"))
    mod.fit(it, num_epoch=2, optimizer=opt, progress=False)
    arg = mod.get_params()[0]
    np.testing.assert_array_equal(arg["bn_gamma"], gamma0)
    np.testing.assert_array_equal(arg["bn_beta"], beta0)
    assert opt.lr_mult["bn_gamma"] == 0.0 and opt.wd_mult["bn_gamma"] == 0.0
    assert opt.wd_mult["fc_bias"] == 0.0 and "fc_weight" not in opt.wd_mult   # defaults derived


# ---------------------------------------------------------------- item 10: schedule's rate
def test_a_schedule_without_learning_rate_gives_the_rate_as_in_mxnet():
    sched = sn.lr_scheduler.FactorScheduler(step=1, base_lr=1024)
    opt = sn.optimizer.SGD(lr_scheduler=sched)
    assert opt.learning_rate == 1024 and sched.base_lr == 1024       # MXNet 1.9.1: 1024 1024
    assert sn.optimizer.create("sgd", lr_scheduler=sn.lr_scheduler.FactorScheduler(1, base_lr=7)).learning_rate == 7
    assert sn.optimizer.SGD().learning_rate == 0.01
    with pytest.warns(UserWarning, match="overwritten"):
        opt = sn.optimizer.SGD(learning_rate=0.5, lr_scheduler=sn.lr_scheduler.FactorScheduler(1, base_lr=7))
    assert opt.learning_rate == 0.5
    with pytest.warns(UserWarning, match="overwritten"):        # Adam's own default wins (MXNet)
        assert sn.optimizer.Adam(lr_scheduler=sn.lr_scheduler.FactorScheduler(1, base_lr=7)).learning_rate == 0.001


# ---------------------------------------------------------------- item 6: all-or-nothing update
def _trained(optimizer="adam"):
    data = sn.sym.Variable("data")
    h = sn.sym.Activation(sn.sym.FullyConnected(data, num_hidden=6, name="fc1"), act_type="relu")
    h = sn.sym.BatchNorm(h, fix_gamma=False, name="bn")
    net = sn.sym.SoftmaxOutput(sn.sym.FullyConnected(h, num_hidden=3, name="fc2"), name="softmax")
    mod = sn.Module(net)
    mod.bind([("data", (8, 5))], [("softmax_label", (8,))])
    sn.random.seed(7)
    mod.init_params(sn.init.Xavier())
    mod.init_optimizer(optimizer=optimizer, optimizer_params={"learning_rate": 0.1})
    rs = np.random.RandomState(1)
    batch = DataBatch([rs.rand(8, 5).astype(np.float32)], [(np.arange(8) % 3).astype(np.float32)])
    for _ in range(2):
        mod.forward_backward(batch)
        mod.update()
    mod.forward_backward(batch)
    return mod


def _everything(mod):
    """Every parameter, optimizer state and counter, copied."""
    arg, aux = mod.get_params()
    states = {i: [a.copy() for a in sn.transaction.state_arrays(s)] for i, s in mod._states.items()}
    opt = mod._optimizer
    return arg, aux, states, dict(opt._index_update_count), opt.num_update


def _assert_same(a, b):
    for x, y in zip(a[:2], b[:2]):
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)
    assert a[2].keys() == b[2].keys()
    for i in a[2]:
        for p, q in zip(a[2][i], b[2][i]):
            np.testing.assert_array_equal(p, q)
    assert a[3:] == b[3:]


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "nadam", "rmsprop"])
def test_an_update_that_raises_midway_changes_nothing(optimizer):
    mod = _trained(optimizer)
    before = _everything(mod)
    mod._exec.grad_dict["fc2_weight"][...] = 3e38     # overflows in a late parameter's step
    mod._optimizer.rescale_grad = 100.0
    before = _everything(mod)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        mod.update()
    _assert_same(_everything(mod), before)


class _Interrupting(sn.optimizer.SGD):
    """SGD that sends this process SIGINT while updating parameter ``at``."""
    def __init__(self, at, **kw):
        super().__init__(**kw)
        self.at = at

    def update(self, index, weight, grad, state):
        if index == self.at:
            signal.raise_signal(signal.SIGINT)
        super().update(index, weight, grad, state)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
@pytest.mark.parametrize("at", range(6))
def test_ctrl_c_during_an_update_lands_after_the_whole_step(at):
    ref, mod = _trained("sgd"), _trained("sgd")
    for m, opt in ((ref, sn.optimizer.SGD(learning_rate=0.1, momentum=0.9, rescale_grad=0.125)),
                   (mod, _Interrupting(at, learning_rate=0.1, momentum=0.9, rescale_grad=0.125))):
        m.init_optimizer(optimizer=opt, force_init=True)
    ref.update()
    with pytest.raises(KeyboardInterrupt):
        mod.update()
    _assert_same(_everything(mod), _everything(ref))


def test_set_params_with_one_bad_array_changes_nothing():
    mod = _trained("sgd")
    before = mod.get_params()
    arg = {k: v + 1 for k, v in before[0].items()}
    arg["fc2_weight"] = np.ones((5, 5), np.float32)       # wrong shape, late in the order
    with pytest.raises(BindError, match="fc2_weight"):
        mod.set_params(arg, before[1])
    after = mod.get_params()
    for k in before[0]:
        np.testing.assert_array_equal(after[0][k], before[0][k])


def test_an_initializer_failing_midway_changes_nothing():
    mod = _trained("sgd")
    before = mod.get_params()

    class Failing(sn.init.Xavier):
        def __call__(self, desc, arr):
            if desc == "fc2_weight":
                raise RuntimeError("injected")
            super().__call__(desc, arr)
    with pytest.raises(RuntimeError, match="injected"):
        mod.init_params(Failing(), force_init=True)
    after = mod.get_params()
    for k in before[0]:
        np.testing.assert_array_equal(after[0][k], before[0][k])


def test_a_monitor_follows_the_executor_when_a_batch_of_another_size_reshapes_it():
    mod = _bound()
    mon = sn.mon.Monitor(1, pattern="data")
    mod.install_monitor(mon)
    mon.tic()
    small = _batch((4, 1, 8, 8), seed=5)
    mod.forward(small, is_train=False)
    stats = dict((k, v) for _, k, v in mon.toc())
    want = float(np.linalg.norm(small.data[0]) / np.sqrt(small.data[0].size))
    assert abs(float(stats["data"]) - want) < 1e-5       # the fed batch, not the stale array


def test_a_label_name_that_is_not_an_argument_warns_naming_the_candidates():
    net = sn.sym.SoftmaxOutput(sn.sym.FullyConnected(sn.sym.Variable("data"), num_hidden=2, name="fc"),
                               sn.sym.Variable("lbl"), name="softmax")
    with pytest.warns(UserWarning, match=r"label_names=\['softmax_label'\].*Did you mean one of:\n\tlbl"):
        sn.Module(net)


def test_module_load_applies_the_states_it_verified_not_a_file_rewritten_since(tmp_path):
    mod = _trained("sgd")
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
                       force_init=True)
    mod.forward_backward(DataBatch([np.ones((8, 5), np.float32)], [np.zeros(8, np.float32)]))
    mod.update()
    prefix = str(tmp_path / "net")
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    saved = {k: v.copy() for k, v in sn.nd.load(prefix + "-0001.states").items()}
    loaded = sn.Module.load(prefix, 1, load_optimizer_states=True)
    sn.nd.save(prefix + "-0001.states", {k: np.full_like(v, 42) for k, v in saved.items()})
    loaded.bind([("data", (8, 5))], [("softmax_label", (8,))])
    loaded.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    names = loaded._param_names
    for i, st in loaded._states.items():
        np.testing.assert_array_equal(st, saved["%s:0" % names[i]])


@pytest.mark.parametrize("key,value", [("fc1_weight:x", np.zeros((6, 5), np.float32)),
                                       ("fc1_weight:count", np.zeros(0, np.int64))])
def test_a_malformed_states_file_is_a_clear_error(tmp_path, key, value):
    mod = _trained("sgd")
    sn.nd.save(str(tmp_path / "s.states"), {key: value})
    with pytest.raises(sn.nd.ParamsFileError, match="fc1_weight"):
        mod.load_optimizer_states(str(tmp_path / "s.states"))


def test_a_forced_rebind_keeps_the_executors_options():
    class Comm(sn.kv.Collective):
        pass
    mod = _bound()
    comm, seen = Comm(), []
    mod._exec.set_collective(comm)
    mod.install_monitor(lambda name, arr: seen.append(name))
    mod._exec.nan_check, mod._exec.inplace = True, False
    mod.bind([("data", (4, 1, 8, 8))], [("softmax_label", (4,))], force_rebind=True)
    opts = mod._exec.options
    assert (opts.collective, opts.nan_check, opts.inplace) == (comm, True, False)
    mod.forward(_batch((4, 1, 8, 8)), is_train=False)
    assert seen                                  # the monitor still fires
