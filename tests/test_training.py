"""Initializers, optimizers (lr_mult/wd_mult, schedules), metrics, iterators, Module,
checkpoints (.params round trip, MXNet fixture files, atomic writes, corrupt files)."""
import json
import logging
import os
import re

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "mxnet-fixtures")
has_fix = pytest.mark.skipif(not os.path.isdir(FIX), reason="../shared/mxnet-fixtures not present")


# ------------------------------------------------------------------ initializers

def test_initializer_dispatch_by_name_and_init_attr():
    sn.random.seed(0)
    init = sn.init.Xavier()
    arrs = {n: np.full(s, 7.0, np.float32) for n, s in
            [("c_weight", (4, 3, 3, 3)), ("c_bias", (4,)), ("bn_gamma", (4,)), ("bn_beta", (4,)),
             ("bn_moving_mean", (4,)), ("bn_moving_var", (4,))]}
    for n, a in arrs.items():
        init(n, a)
    assert not arrs["c_bias"].any() and not arrs["bn_beta"].any() and not arrs["bn_moving_mean"].any()
    assert (arrs["bn_gamma"] == 1).all() and (arrs["bn_moving_var"] == 1).all()
    bound = np.sqrt(3 / ((27 + 36) / 2))
    assert np.abs(arrs["c_weight"]).max() <= bound and arrs["c_weight"].std() > bound / 3
    a = np.zeros(3, np.float32)
    init(sn.init.InitDesc("odd_weight", {"__init__": '["constant", {"value": 2.5}]'}), a)
    assert (a == 2.5).all()
    with pytest.raises(ValueError, match="Unknown initialization pattern"):
        init("mystery", np.zeros(2))
    lo, hi = np.full(2, 7.0), np.full(2, 7.0)
    init("q_min", lo)
    init("q_max", hi)
    assert lo.tolist() == [0, 0] and hi.tolist() == [1, 1]         # MXNet 1.9.1's values


def test_initializers_and_dumps():
    sn.random.seed(1)
    for init, check in ((sn.init.Zero(), lambda a: not a.any()), (sn.init.One(), lambda a: (a == 1).all()),
                        (sn.init.Uniform(0.5), lambda a: np.abs(a).max() <= 0.5),
                        (sn.init.Normal(2.0), lambda a: 1.5 < a.std() < 2.5),
                        (sn.init.MSRAPrelu(), lambda a: a.std() > 0)):
        a = np.zeros((64, 32), np.float32)
        init("x_weight", a)
        assert check(a), init
    q = np.zeros((8, 8))
    sn.init.Orthogonal(scale=1.0)("q_weight", q)
    np.testing.assert_allclose(q @ q.T, np.eye(8), atol=1e-6)
    assert json.loads(sn.init.Xavier(magnitude=2).dumps()) == ["xavier", {"rnd_type": "uniform", "factor_type": "avg", "magnitude": 2}]
    assert isinstance(sn.init.create(sn.init.Xavier().dumps()), sn.init.Xavier)
    mixed = sn.init.Mixed([".*special.*", ".*"], [sn.init.Constant(3), sn.init.One()])
    w, b = np.zeros(2), np.ones(2)
    mixed("special_weight", w)
    mixed("fc_bias", b)                 # as in MXNet, the name still decides: a bias is zero
    assert (w == 3).all() and not b.any()


def test_seeded_initialization_repeats():
    a, b = np.zeros((3, 4)), np.zeros((3, 4))
    sn.random.seed(7)
    sn.init.Xavier()("w_weight", a)
    sn.random.seed(7)
    sn.init.Xavier()("w_weight", b)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ optimizers

def test_sgd_momentum_matches_formula_and_mxnet_default_wd_mults():
    opt = sn.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=0.01, rescale_grad=0.5,
                           param_idx2name={0: "conv_weight", 1: "conv_bias", 2: "bn_gamma", 3: "fc1_bias"})
    # MXNet 1.9.1 (mx.optimizer.SGD with this param_idx2name): wd_mult
    # {'conv_bias': 0.0, 'fc1_bias': 0.0}; gamma decays like a weight
    assert opt.wd_mult == {"conv_bias": 0.0, "fc1_bias": 0.0}
    w, g = np.array([1.0, -2.0]), np.array([0.4, 0.2])
    state = opt.create_state(0, w)
    expected_mom = -0.1 * (0.5 * g + 0.01 * w)
    opt.update(0, w, g, state)
    np.testing.assert_allclose(state, expected_mom)
    np.testing.assert_allclose(w, np.array([1.0, -2.0]) + expected_mom)
    b = np.array([1.0])
    opt2 = sn.optimizer.SGD(learning_rate=0.1, wd=0.5, param_idx2name={1: "conv_bias"})
    opt2.update(1, b, np.array([0.0]), None)
    assert b[0] == 1.0                                              # no decay on biases


@pytest.mark.parametrize("fix_gamma", [True, False])
def test_module_never_trains_a_fixed_gamma(fix_gamma):
    """With weight decay a learned gamma decays (MXNet's default covers *_gamma); a
    fix_gamma gamma is bound with grad_req 'null' and stays exactly 1."""
    net = sym.SoftmaxOutput(sym.FullyConnected(
        sym.BatchNorm(sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc1"),
                      fix_gamma=fix_gamma, name="bn"), num_hidden=2, name="fc2"), name="softmax")
    x, y = np.random.RandomState(0).randn(20, 4), np.arange(20) % 2
    mod = sn.Module(net)
    mod.fit(sn.io.NDArrayIter(x, y, batch_size=10), num_epoch=2, progress=False,
            optimizer_params={"learning_rate": 0.5, "wd": 0.5})
    gamma = mod.get_params()[0]["bn_gamma"]
    assert (mod._exec.grad_dict["bn_gamma"] is None) == fix_gamma
    if fix_gamma:
        np.testing.assert_array_equal(gamma, 1)
    else:
        assert np.abs(gamma - 1).max() > 1e-3


def test_lr_and_wd_mult_from_symbol_attributes_and_setters():
    w = sym.Variable("w", lr_mult=0.0)
    net = sym.FullyConnected(sym.Variable("data"), weight=w, num_hidden=2, name="fc")
    opt = sn.optimizer.SGD(learning_rate=1.0, sym=net, param_idx2name={0: "w", 1: "fc_bias"})
    weight = np.ones((2, 3))
    opt.update(0, weight, np.ones((2, 3)), None)
    assert (weight == 1).all()                                      # lr_mult 0 freezes it
    opt.set_lr_mult({"fc_bias": 0.5})
    bias = np.zeros(2)
    opt.update(1, bias, np.ones(2), None)
    np.testing.assert_allclose(bias, -0.5)


def test_clip_and_nag_and_adam_and_rmsprop():
    g = np.array([10.0, -10.0, 0.5])
    w = np.zeros(3)
    sn.optimizer.SGD(learning_rate=1.0, clip_gradient=1.0).update(0, w, g, None)
    np.testing.assert_allclose(w, [-1, 1, -0.5])
    nag = sn.optimizer.NAG(learning_rate=0.1, momentum=0.9)
    w, st = np.array([1.0]), np.zeros(1)
    nag.update(0, w, np.array([1.0]), st)
    np.testing.assert_allclose(w, 1 - 0.1 * (1 + 0.9 * 1))
    adam = sn.optimizer.Adam(learning_rate=0.01)
    w = np.array([1.0])
    st = adam.create_state(0, w)
    adam.update(0, w, np.array([2.0]), st)
    np.testing.assert_allclose(w, 1 - 0.01, rtol=1e-6)             # first step moves by lr
    adamw = sn.optimizer.AdamW(learning_rate=0.01, wd=0.1, param_idx2name={0: "x_weight"})
    w = np.array([1.0])
    adamw.update(0, w, np.array([0.0]), adamw.create_state(0, w))
    np.testing.assert_allclose(w, 1 - 0.01 * 0.1)                  # decoupled decay only
    rms = sn.optimizer.RMSProp(learning_rate=0.01)
    w = np.array([1.0])
    st = rms.create_state(0, w)
    rms.update(0, w, np.array([1.0]), st)
    np.testing.assert_allclose(w, 1 - 0.01 / np.sqrt(0.1 + 1e-8))
    with pytest.raises(ValueError, match="unknown optimizer"):
        sn.optimizer.create("nope")


# Final weights after three updates from MXNet 1.9.1 (mx.optimizer.create(name, **kw),
# weight [0.5, -1.5, 2.0, 0.05], the gradients below): weight decay before the clip in Adam
# and RMSProp, after it in SGD; centered RMSProp with clip_weights.
MX_OPTIMIZER_GOLDEN = [
    ("sgd", {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5},
     [0.29668245, -1.3785695, 1.6550885, 0.208231]),
    ("adam", {'learning_rate': 0.01, 'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5},
     [0.48397225, -1.4844402, 1.9740901, 0.065223746]),
    ("rmsprop", {'learning_rate': 0.01, 'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5},
     [0.47718546, -1.4605976, 1.9480335, 0.056335032]),
    ("rmsprop", {'learning_rate': 0.01, 'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5,
                 'centered': True, 'gamma1': 0.95, 'gamma2': 0.8, 'clip_weights': 1.2},
     [0.41638416, -1.149435, 1.072584, 0.12493026]),
    ("nag", {'learning_rate': 0.1, 'momentum': 0.9, 'clip_gradient': 1.0, 'rescale_grad': 0.5},
     [0.2631, -1.3433599, 1.6235499, 0.19035]),
    ("adagrad", {'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5, 'learning_rate': 0.1},
     [0.42473543, -1.3744328, 1.812027, 0.072620943]),
    ("adadelta", {'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5},
     [0.42369801, -1.2711412, 1.6995325, 0.040932618]),
    ("adamax", {'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5},
     [0.49714017, -1.4973795, 1.9955399, 0.052717734]),
    ("nadam", {'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5},
     [0.49913105, -1.4985439, 1.9981571, 0.050310519]),
    ("signum", {'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5, 'learning_rate': 0.05, 'wd_lh': 0.1},
     [0.34328616, -1.4278612, 1.8208988, 0.098505005]),
    ("signum", {'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5, 'learning_rate': 0.05, 'momentum': 0.0},
     [0.44638404, -1.4389029, 1.9354122, -0.00049874559]),
    ("ftrl", {'wd': 0.05, 'clip_gradient': 1.0, 'rescale_grad': 0.5, 'lamda1': 0.05, 'learning_rate': 0.3},
     [0.14113571, -0.0062723495, 0.4585315, 0.035361692]),
]
GOLDEN_GRADS = [[3.0, -0.2, 1.0, -4.0], [-1.0, 0.5, 2.5, 0.1], [0.3, -3.0, -0.7, 2.0]]


@pytest.mark.parametrize("name,kw,expect", MX_OPTIMIZER_GOLDEN)
def test_optimizers_match_mxnet(name, kw, expect):
    opt = sn.optimizer.create(name, **kw)
    w = np.array([0.5, -1.5, 2.0, 0.05], np.float32)
    state = opt.create_state(0, w)
    for g in GOLDEN_GRADS:
        opt.update(0, w, np.array(g, np.float32), state)
    np.testing.assert_allclose(w, expect, rtol=2e-6, atol=1e-7)


def test_nadam_schedule_is_per_parameter():
    """MXNet 1.9.1 keeps Nadam's momentum-schedule product on the optimizer, so updating a
    second parameter changes the first one's steps; symnorm keeps it per parameter."""
    grads = [np.array(g) for g in GOLDEN_GRADS]
    alone = sn.optimizer.Nadam()
    w = np.array([0.5, -1.5, 2.0, 0.05])
    st = alone.create_state(0, w)
    for g in grads:
        alone.update(0, w, g, st)
    both = sn.optimizer.Nadam()
    w0, w1 = np.array([0.5, -1.5, 2.0, 0.05]), np.ones(4)
    s0, s1 = both.create_state(0, w0), both.create_state(1, w1)
    for g in grads:
        both.update(0, w0, g, s0)
        both.update(1, w1, g, s1)
    np.testing.assert_array_equal(w0, w)


def test_nag_decays_with_the_weight_the_step_started_from():
    """MXNet 1.9.1's NAG reads the already-updated weight for the momentum's decay term (a
    defect of its in-place kernel); symnorm follows the formula."""
    nag = sn.optimizer.NAG(learning_rate=1.0, momentum=0.5, wd=0.1)
    w, mom = np.array([1.0]), np.zeros(1)
    ref_w, ref_mom = 1.0, 0.0
    for _ in range(3):
        nag.update(0, w, np.zeros(1), mom)
        g = 0.1 * ref_w                              # gradient 0, decay on the old weight
        ref_mom = 0.5 * ref_mom - 1.0 * g            # lr-scaled, as MXNet keeps it
        ref_w += 0.5 * ref_mom - 1.0 * g
        np.testing.assert_allclose(w, ref_w, rtol=1e-12)
        np.testing.assert_allclose(mom, ref_mom, rtol=1e-12)


def test_schedulers():
    # FactorScheduler and PolyScheduler values and the SGD weights are MXNet 1.9.1's
    f = sn.lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=1.0)
    assert [f(n) for n in (0, 9, 10, 11, 25)] == [1.0, 1.0, 1.0, 0.5, 0.25]
    fw = sn.lr_scheduler.FactorScheduler(step=5, factor=0.5, base_lr=1.0, warmup_steps=4,
                                         warmup_begin_lr=0.2)
    assert [round(fw(n), 6) for n in (0, 2, 4, 5, 6, 11)] == [0.2, 0.6, 1.0, 1.0, 0.5, 0.25]
    p = sn.lr_scheduler.PolyScheduler(max_update=30, base_lr=1.0, pwr=2, final_lr=0.1,
                                      warmup_steps=5)
    assert [round(p(n), 6) for n in (0, 3, 5, 10, 29, 30, 40)] == [0.0, 0.6, 1.0, 0.676, 0.10144, 0.1, 0.1]
    m = sn.lr_scheduler.MultiFactorScheduler(step=[5, 8], factor=0.1, base_lr=1.0)
    assert [round(m(n), 6) for n in (5, 6, 9)] == [1.0, 0.1, 0.01]
    c = sn.lr_scheduler.CosineScheduler(max_update=100, base_lr=1.0, final_lr=0.0,
                                        warmup_steps=10, warmup_begin_lr=0.0)
    assert c(5) == 0.5 and c(10) == 1.0 and abs(c(55) - 0.5) < 1e-9 and c(100) == 0.0
    opt = sn.optimizer.SGD(learning_rate=2.0, lr_scheduler=sn.lr_scheduler.FactorScheduler(1, 0.5, base_lr=2.0))
    w = np.zeros(1)
    for expect in (-2.0, -3.0, -3.5):          # updates 1, 2, 3: lr 2, 1, 0.5
        opt.update(0, w, np.ones(1), None)
        np.testing.assert_allclose(w, expect)
    with pytest.raises(ValueError):
        sn.lr_scheduler.FactorScheduler(step=0)


# ------------------------------------------------------------------ metrics

def test_metrics():
    acc = sn.metric.create("acc")
    acc.update([np.array([0, 1, 1])], [np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])])
    assert acc.get() == ("accuracy", 2 / 3)
    top2 = sn.metric.TopKAccuracy(top_k=2)
    top2.update([np.array([2])], [np.array([[0.1, 0.5, 0.4]])])
    assert top2.get()[1] == 1.0
    ce = sn.metric.create("ce")
    ce.update([np.array([1])], [np.array([[0.5, 0.5]])])
    assert abs(ce.get()[1] - np.log(2)) < 1e-9
    for name, value in (("mse", 1.0), ("mae", 1.0), ("rmse", 1.0)):
        m = sn.metric.create(name)
        m.update([np.array([1.0, 2.0])], [np.array([2.0, 1.0])])
        assert m.get()[1] == value
    comp = sn.metric.create(["acc", "ce"])
    comp.update([np.array([1])], [np.array([[0.5, 0.5]])])
    assert [n for n, _ in comp.get_name_value()] == ["accuracy", "cross-entropy"]
    with pytest.raises(ValueError):
        sn.metric.create("nope")


def test_local_and_global_metric_and_speedometer_lines(caplog):
    """reset_local restarts get() but not get_global(); Speedometer writes MXNet 1.9.1's
    lines and resets only the local view, so fit's epoch value still covers every batch."""
    acc = sn.metric.create(["acc"])
    acc.update([np.array([0, 1])], [np.array([[0.9, 0.1], [0.2, 0.8]])])       # 2 of 2
    acc.reset_local()
    acc.update([np.array([0, 1])], [np.array([[0.1, 0.9], [0.2, 0.8]])])       # 1 of 2
    assert acc.get_name_value() == [("accuracy", 0.5)]
    assert acc.get_global_name_value() == [("accuracy", 0.75)]
    acc.reset()
    assert np.isnan(acc.get_global()[1][0])
    metric = sn.metric.create("acc")
    speedo = sn.callback.Speedometer(batch_size=2, frequent=2)
    with caplog.at_level(logging.INFO):
        for nbatch in range(5):
            metric.update([np.array([0, 1])], [np.array([[0.9, 0.1], [0.9, 0.1]])])   # 1 of 2
            speedo(sn.callback.BatchEndParam(0, nbatch, metric))
        bare = sn.callback.Speedometer(batch_size=2, frequent=2)
        for nbatch in (0, 2):
            bare(sn.callback.BatchEndParam(3, nbatch, None))
    lines = [r.getMessage() for r in caplog.records]
    assert [re.sub(r"Speed: [0-9.e+inf]+", "Speed: S", m) for m in lines] == [
        "Epoch[0] Batch [0-2]\tSpeed: S samples/sec\taccuracy=0.500000",
        "Epoch[0] Batch [2-4]\tSpeed: S samples/sec\taccuracy=0.500000",
        "Iter[3] Batch [2]\tSpeed: S samples/sec"]
    assert metric.num_inst == 0 and metric.get_global_name_value() == [("accuracy", 0.5)]
    assert metric._earlier[1] == 10                              # 5 batches of 2 in all


def test_fit_logs_the_whole_epochs_metric_under_a_resetting_speedometer(caplog):
    class Counter(sn.metric.EvalMetric):          # the k-th update adds k: mean of 1..n
        def __init__(self):
            self.k = 0
            super().__init__("counter")

        def update(self, labels, preds):
            self.k += 1
            self.sum_metric += self.k
            self.num_inst += 1
    x, y = blobs()
    with caplog.at_level(logging.INFO):
        sn.Module(small_net()).fit(sn.io.NDArrayIter(x, y, batch_size=15), num_epoch=1,
                                   eval_metric=Counter(), progress=False,
                                   batch_end_callback=sn.callback.Speedometer(15, frequent=2))
    assert "Epoch[0] Train-counter=3.500000" in caplog.text      # 6 batches: (1+...+6)/6


# ------------------------------------------------------------------ iterators

def _epoch(it):
    return [b for b in it]


def test_ndarrayiter_pad_discard_roll_over():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    it = sn.io.NDArrayIter(x, np.arange(10), batch_size=4)
    batches = _epoch(it)
    assert [b.pad for b in batches] == [0, 0, 2]
    assert batches[-1].data[0].ravel().tolist() == [8, 9, 0, 1]
    assert it.provide_data[0].name == "data" and it.provide_data[0].shape == (4, 1)
    assert it.provide_label[0].name == "softmax_label"
    assert it.provide_data[0].layout == "NCHW"
    assert sn.io.NDArrayIter(x, batch_size=4, layout="NC").provide_data[0].layout == "NC"
    assert len(_epoch(sn.io.NDArrayIter(x, batch_size=4, last_batch_handle="discard"))) == 2
    ro = sn.io.NDArrayIter(x, batch_size=4, last_batch_handle="roll_over")
    first = _epoch(ro)
    ro.reset()
    second = _epoch(ro)
    assert len(first) == 2 and second[0].data[0].ravel().tolist()[:2] == [8, 9]
    # MXNet 1.9.1, measured: epoch 1 is [8 9 0 1] pad 2, [2..5], [6..9]; epoch 2 as epoch 0
    assert [b.pad for b in first] == [0, 0]
    assert [(b.data[0].ravel().tolist(), b.pad) for b in second] == [
        ([8, 9, 0, 1], 2), ([2, 3, 4, 5], 0), ([6, 7, 8, 9], 0)]
    ro.reset()
    assert [b.pad for b in _epoch(ro)] == [0, 0]
    with pytest.raises(ValueError, match="same number of samples"):
        sn.io.NDArrayIter(x, np.arange(9), batch_size=2)
    with pytest.raises(ValueError, match="last_batch_handle"):
        sn.io.NDArrayIter(x, batch_size=2, last_batch_handle="keep")


def test_ndarrayiter_shuffle_dict_and_shards():
    sn.random.seed(3)
    x = np.arange(8, dtype=np.float32)
    it = sn.io.NDArrayIter({"a": x, "b": x * 10}, {"lab": x}, batch_size=8, shuffle=True)
    b = next(iter(it))
    assert sorted(b.data[0].tolist()) == list(range(8)) and (b.data[1] == b.data[0] * 10).all()
    parts = [sn.io.NDArrayIter(x, batch_size=2, num_parts=2, part_index=i) for i in range(2)]
    seen = [v for p in parts for bb in p for v in bb.data[0].tolist()]
    assert sorted(seen) == list(range(8))
    # dict inputs in name order, whatever order they were given in (MXNet 1.9.1)
    it = sn.io.NDArrayIter({"b": np.zeros((6, 2)), "a": np.ones((6, 3))}, batch_size=4)
    assert [d.name for d in it.provide_data] == ["a", "b"]
    assert [d.shape for d in next(iter(it)).data] == [(4, 3), (4, 2)]


def test_normalize_fits_training_set_only():
    train = np.random.RandomState(0).rand(10, 3, 2, 2).astype(np.float32) * 5 + 2
    norm = sn.io.Normalize.fit(train)
    out = norm(train)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)


# ------------------------------------------------------------------ Module

def small_net():
    net = sym.FullyConnected(sym.Variable("data"), num_hidden=8, name="fc1")
    net = sym.BatchNorm(net, fix_gamma=False, name="bn")
    net = sym.Activation(net, act_type="relu")
    return sym.SoftmaxOutput(sym.FullyConnected(net, num_hidden=3, name="fc2"), name="softmax")


def blobs(n=90, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 3
    x = rng.randn(n, 4) * 0.3 + np.eye(3, 4)[y] * 2
    return x.astype(np.float32), y.astype(np.float32)


def test_iter_predict_score_callbacks_and_padding():
    """iter_predict yields each batch's outputs without its padding; score leaves padded
    samples out of the metric (MXNet 1.9.1 counts them: 4/12 here where the truth is 3/10)
    and calls its callbacks; fit hands eval_batch_end_callback/eval_end_callback to it."""
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = (np.arange(10) % 3).astype(np.float32)
    net = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc"),
                            name="softmax")
    mod = sn.Module(net)
    mod.bind([("data", (4, 2))], [("softmax_label", (4,))])
    w = np.array([[0.1, -0.2], [0.05, 0.1], [-0.1, 0.2]], np.float32)
    mod.init_params(arg_params={"fc_weight": w, "fc_bias": np.zeros(3, np.float32)})
    it = sn.io.NDArrayIter(x, y, batch_size=4)
    got = [(outs[0].shape, i, b.pad) for outs, i, b in mod.iter_predict(it)]
    assert got == [((4, 3), 0, 0), ((4, 3), 1, 0), ((2, 3), 2, 2)]
    seen = []
    res = mod.score(it, "acc", batch_end_callback=lambda p: seen.append(("batch", p.nbatch)),
                    score_end_callback=lambda p: seen.append(("end", p.eval_metric.get()[1])))
    pred = np.argmax(x @ w.T, axis=1)
    assert res == [("accuracy", float(np.mean(pred == y)))] and res[0][1] == 0.3
    assert seen == [("batch", 0), ("batch", 1), ("batch", 2), ("end", 0.3)]
    calls = []
    sn.Module(net).fit(it, eval_data=it, num_epoch=2, progress=False,
                       eval_batch_end_callback=lambda p: calls.append(("b", p.epoch, p.nbatch)),
                       eval_end_callback=[lambda p: calls.append(("e", p.epoch))])
    assert calls == [("b", 0, 0), ("b", 0, 1), ("b", 0, 2), ("e", 0),
                     ("b", 1, 0), ("b", 1, 1), ("b", 1, 2), ("e", 1)]


def test_module_fit_score_predict_and_logs(caplog, capsys):
    x, y = blobs()
    sn.random.seed(0)
    mod = sn.Module(small_net())
    it = sn.io.NDArrayIter(x, y, batch_size=15, shuffle=True)
    with caplog.at_level(logging.INFO):
        mod.fit(it, eval_data=sn.io.NDArrayIter(x, y, batch_size=15), num_epoch=8,
                optimizer_params={"learning_rate": 0.2, "momentum": 0.9},
                initializer=sn.init.Xavier(),
                batch_end_callback=sn.callback.Speedometer(15, frequent=2))
    text = caplog.text
    assert "Epoch[0] Train-accuracy=" in text and "Epoch[7] Validation-accuracy=" in text
    assert "Time cost=" in text and "samples/sec" in text
    assert dict(mod.score(sn.io.NDArrayIter(x, y, batch_size=20), "acc"))["accuracy"] > 0.95
    pred = mod.predict(sn.io.NDArrayIter(x, batch_size=20))
    assert pred.shape == (90, 3)                                  # padding removed
    arg, aux = mod.get_params()
    assert aux["bn_moving_var"].any() and set(arg) == {"fc1_weight", "fc1_bias", "bn_gamma", "bn_beta",
                                                         "fc2_weight", "fc2_bias"}
    assert "Epoch 7 [" not in capsys.readouterr().err    # stderr is no terminal here: no bar


def test_progress_text_fallback(monkeypatch):
    import builtins
    import io as _io
    real_import = builtins.__import__

    def no_tqdm(name, *a, **k):
        if name == "tqdm":
            raise ImportError
        return real_import(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    class Terminal(_io.StringIO):
        def isatty(self):
            return True
    out = Terminal()
    bar = sn.callback.Progress(total=4, epoch=2, stream=out)
    for _ in range(4):
        bar.update(32, {"loss": 0.5, "accuracy": 0.75})
    bar.close()
    text = out.getvalue()
    assert "Epoch 2 [4/4] loss=0.5000 accuracy=0.7500" in text and "samples/s" in text


def test_fixed_params_do_not_move_but_aux_still_updates():
    x, y = blobs()
    mod = sn.Module(small_net(), fixed_param_names=["fc1_weight", "bn_gamma", "bn_beta"])
    it = sn.io.NDArrayIter(x, y, batch_size=30)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(sn.init.Xavier())
    before, aux0 = mod.get_params()
    mod.init_optimizer(optimizer_params={"learning_rate": 0.5})
    mod.forward_backward(next(iter(it)))
    mod.update()
    after, aux1 = mod.get_params()
    np.testing.assert_array_equal(before["fc1_weight"], after["fc1_weight"])
    assert not np.array_equal(before["fc2_weight"], after["fc2_weight"])
    assert not np.array_equal(aux0["bn_moving_mean"], aux1["bn_moving_mean"])


def test_lr_mult_zero_and_grad_req_null_input_normalization():
    """BatchNorm as input normalization with frozen gamma/beta: both ways keep them, and the
    statistics update either way."""
    x, y = blobs()
    for how in ("lr_mult", "fixed"):
        g = sym.Variable("in_gamma", lr_mult=0.0) if how == "lr_mult" else sym.Variable("in_gamma")
        b = sym.Variable("in_beta", lr_mult=0.0) if how == "lr_mult" else sym.Variable("in_beta")
        net = sym.BatchNorm(sym.Variable("data"), gamma=g, beta=b, fix_gamma=False, name="in")
        net = sym.SoftmaxOutput(sym.FullyConnected(net, num_hidden=3, name="fc"), name="softmax")
        mod = sn.Module(net, fixed_param_names=["in_gamma", "in_beta"] if how == "fixed" else None)
        mod.fit(sn.io.NDArrayIter(x * 10 + 5, y, batch_size=30), num_epoch=2, progress=False,
                optimizer_params={"learning_rate": 0.1})
        arg, aux = mod.get_params()
        np.testing.assert_array_equal(arg["in_gamma"], 1)
        np.testing.assert_array_equal(arg["in_beta"], 0)
        assert aux["in_moving_mean"].mean() > 1.0


def test_set_params_errors():
    mod = sn.Module(small_net())
    mod.bind([("data", (5, 4))], [("softmax_label", (5,))])
    arg = {"fc1_weight": np.zeros((8, 4))}
    with pytest.raises(sn.BindError, match="not presented"):
        mod.set_params(arg, {})
    with pytest.raises(sn.BindError, match="shape"):
        mod.set_params({"fc1_weight": np.zeros((8, 5))}, {}, allow_missing=True)
    with pytest.raises(sn.BindError, match="not in the symbol"):
        mod.set_params({"zzz": np.zeros(1)}, {}, allow_missing=True)
    mod.set_params({"zzz": np.zeros(1)}, {}, allow_missing=True, allow_extra=True)
    with pytest.raises(sn.BindError, match="not arguments"):
        sn.Module(small_net(), data_names=("nope",))


def test_checkpoint_roundtrip_and_module_load(tmp_path):
    x, y = blobs()
    mod = sn.Module(small_net())
    mod.fit(sn.io.NDArrayIter(x, y, batch_size=30), num_epoch=1, progress=False,
            epoch_end_callback=sn.callback.do_checkpoint(str(tmp_path / "net")))
    assert (tmp_path / "net-symbol.json").exists() and (tmp_path / "net-0001.params").exists()
    sn.callback.do_checkpoint(str(tmp_path / "new" / "dir" / "net"))   # made at once, not at epoch 1
    assert (tmp_path / "new" / "dir").is_dir()
    (tmp_path / "afile").write_text("")
    with pytest.raises(OSError, match="cannot create the directory"):
        sn.callback.do_checkpoint(str(tmp_path / "afile" / "net"))
    raw = sn.nd.load(str(tmp_path / "net-0001.params"))
    assert {"aux:bn_moving_mean", "aux:bn_moving_var", "arg:fc1_weight"} <= set(raw)
    loaded = sn.Module.load(str(tmp_path / "net"), 1)
    loaded.bind([("data", (30, 4))], [("softmax_label", (30,))], for_training=False)
    loaded.init_params()
    for a, b in zip(mod.get_params(), loaded.get_params()):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    out1 = mod.predict(sn.io.NDArrayIter(x, batch_size=30))
    out2 = loaded.predict(sn.io.NDArrayIter(x, batch_size=30))
    np.testing.assert_array_equal(out1, out2)
    mod.save_checkpoint(str(tmp_path / "s"), 3, save_optimizer_states=True)
    assert (tmp_path / "s-0003.states").exists()


@pytest.mark.parametrize("optimizer,params", [
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
    ("adam", {"learning_rate": 0.01}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True}),
    ("nadam", {"learning_rate": 0.01}),            # its schedule product follows the counts
])
def test_training_resumes_exactly_from_saved_optimizer_states(tmp_path, optimizer, params):
    """save_checkpoint(save_optimizer_states=True) then Module.load(load_optimizer_states=
    True): the next steps equal those of the module that kept running (momentum, moments
    and Adam's step count restored); without the states they differ."""
    x, y = blobs()
    batches = list(sn.io.NDArrayIter(x, y, batch_size=30))

    def module(mod=None):
        mod = mod or sn.Module(small_net())
        mod.bind([("data", (30, 4))], [("softmax_label", (30,))])
        mod.init_params(sn.init.Xavier())
        mod.init_optimizer(optimizer=optimizer, optimizer_params=params)
        return mod

    def steps(mod, n):
        for b in batches[:n]:
            mod.forward_backward(b)
            mod.update()
        return mod.get_params()[0]
    sn.random.seed(3)
    mod = module()
    steps(mod, 3)
    mod.save_checkpoint(str(tmp_path / "r"), 1, save_optimizer_states=True)
    want = steps(mod, 2)
    resumed = steps(module(sn.Module.load(str(tmp_path / "r"), 1, load_optimizer_states=True)), 2)
    fresh = steps(module(sn.Module.load(str(tmp_path / "r"), 1)), 2)
    for k in want:
        np.testing.assert_array_equal(resumed[k], want[k], err_msg=k)
    assert any(not np.array_equal(fresh[k], want[k]) for k in want)


def test_optimizer_states_that_do_not_fit_change_nothing(tmp_path):
    x, y = blobs()
    mod = sn.Module(small_net())
    mod.fit(sn.io.NDArrayIter(x, y, batch_size=30), num_epoch=1, progress=False,
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    mod.save_optimizer_states(str(tmp_path / "sgd.states"))
    other = sn.Module(small_net())
    other.bind([("data", (30, 4))], [("softmax_label", (30,))])
    other.init_params()
    other.init_optimizer(optimizer="adam")
    with pytest.raises(sn.nd.ParamsFileError, match="sgd.states: parameter 'fc1_weight' has 1 state "
                                                    "array.*Adam keeps 2"):
        other.load_optimizer_states(str(tmp_path / "sgd.states"))
    assert other._states == {}
    mod.save_checkpoint(str(tmp_path / "r"), 2)                 # no states saved
    with pytest.raises(FileNotFoundError, match="r-0002.states does not exist"):
        sn.Module.load(str(tmp_path / "r"), 2, load_optimizer_states=True)


# ------------------------------------------------------------------ .params files

@has_fix
def test_reads_mxnet_written_params_files():
    one = sn.nd.load(os.path.join(FIX, "one.params"))
    np.testing.assert_array_equal(one["arg:w"], [[1, 2], [3, 4]])
    assert one["aux:m"].dtype == np.float64 and one["aux:m"][0] == 7
    lst = sn.nd.load(os.path.join(FIX, "list.params"))
    assert isinstance(lst, list) and lst[0].dtype == np.int32 and lst[0].tolist() == [1, 2, 3]
    np3 = sn.nd.load(os.path.join(FIX, "np3.params"))
    assert np3["s"].shape == () and np3["a"].dtype == np.float16
    sym_, arg, aux = sn.model.load_checkpoint(os.path.join(FIX, "tiny"), 0)
    assert set(aux) == {"bn0_moving_mean", "bn0_moving_var"} and arg["conv0_weight"].shape == (4, 1, 3, 3)


@has_fix
def test_writes_bytes_mxnet_reads(tmp_path):
    one = sn.nd.load(os.path.join(FIX, "one.params"))
    sn.nd.save(str(tmp_path / "again.params"), one)
    assert (tmp_path / "again.params").read_bytes() == open(os.path.join(FIX, "one.params"), "rb").read()


def test_params_roundtrip_every_dtype(tmp_path):
    data = {"f32": np.arange(6, dtype=np.float32).reshape(2, 3), "f64": np.array([1.5]),
            "f16": np.array([0.5, 2], np.float16), "u8": np.array([255], np.uint8),
            "i32": np.array([-3], np.int32), "i8": np.array([-1], np.int8),
            "i64": np.array([2 ** 40]), "b": np.array([True, False])}
    sn.nd.save(str(tmp_path / "x.params"), data)
    back = sn.nd.load(str(tmp_path / "x.params"))
    for k, v in data.items():
        assert back[k].dtype == v.dtype
        np.testing.assert_array_equal(back[k], v)
    sn.nd.save(str(tmp_path / "l.params"), [np.ones(2)])
    assert isinstance(sn.nd.load(str(tmp_path / "l.params")), list)


def test_legacy_v1_and_bfloat16_records(tmp_path):
    import struct
    body = struct.pack("<QQQ", 0x112, 0, 2)
    body += struct.pack("<Ii", 0xF993FAC8, 1) + struct.pack("<q", 2) + struct.pack("<iii", 1, 0, 0)
    body += np.array([1.0, 2.0], "<f4").tobytes()
    body += struct.pack("<I", 1) + struct.pack("<I", 2) + struct.pack("<iii", 1, 0, 12)
    body += (np.array([3.0, -1.5], "<f4").view("<u4") >> 16).astype("<u2").tobytes()
    body += struct.pack("<Q", 0)
    (tmp_path / "old.params").write_bytes(body)
    a, b = sn.nd.load(str(tmp_path / "old.params"))
    assert a.tolist() == [1.0, 2.0] and b.dtype == np.float32 and b.tolist() == [3.0, -1.5]


def test_truncated_and_corrupt_params_raise(tmp_path):
    sn.nd.save(str(tmp_path / "ok.params"), {"arg:w": np.ones((3, 3), np.float32)})
    raw = (tmp_path / "ok.params").read_bytes()
    (tmp_path / "cut.params").write_bytes(raw[:-20])
    with pytest.raises(sn.nd.ParamsFileError, match="truncated"):
        sn.nd.load(str(tmp_path / "cut.params"))
    (tmp_path / "bad.params").write_bytes(b"\x00" * 40)
    with pytest.raises(sn.nd.ParamsFileError, match="not an MXNet .params file"):
        sn.nd.load(str(tmp_path / "bad.params"))
    (tmp_path / "tail.params").write_bytes(raw + b"xx")
    with pytest.raises(sn.nd.ParamsFileError, match="trailing"):
        sn.nd.load(str(tmp_path / "tail.params"))


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m-0001.params"
    sn.model.save_checkpoint(str(tmp_path / "m"), 1, None, {"w": np.ones(2)}, {})
    good = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        sn.model.save_checkpoint(str(tmp_path / "m"), 1, None, {"w": np.zeros(5)}, {})
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-0001.manifest", "m-0001.params"]


# ------------------------------------------------------------------ IDX files

def _idx(path, arr, magic_type=0x08):
    import struct
    header = bytes([0, 0, magic_type, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    path.write_bytes(header + arr.astype(">u1").tobytes())


def test_idx_reader_shards_and_format_errors(tmp_path):
    import gzip
    images = np.arange(5 * 28 * 28, dtype=np.uint8).reshape(5, 28, 28)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    _idx(tmp_path / "t10k-images-idx3-ubyte", images)
    raw = tmp_path / "lab"
    _idx(raw, labels)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw.read_bytes()))
    raw.unlink()
    with pytest.raises(sn.io.IDXError, match="no t10k-images"):
        sn.io.load_mnist(str(tmp_path / "nowhere"))
    labels_gz = sn.io.read_idx(str(tmp_path / "t10k-labels-idx1-ubyte.gz"))      # gzip read
    assert labels_gz.tolist() == [3, 1, 4, 1, 5]
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    x, y = sn.io.load_mnist(str(tmp_path))
    assert x.shape == (5, 1, 28, 28) and x.max() == 1.0 and y.tolist() == [3, 1, 4, 1, 5]
    x0, y0 = sn.io.load_mnist(str(tmp_path), num_parts=2, part_index=0)
    x1, y1 = sn.io.load_mnist(str(tmp_path), num_parts=2, part_index=1)
    assert y0.tolist() == [3, 4] and y1.tolist() == [1, 1]          # equal shards
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(sn.io.IDXError, match="truncated"):
        sn.io.read_idx(str(bad))
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(sn.io.IDXError, match="not an IDX file"):
        sn.io.read_idx(str(bad))
    with pytest.raises(sn.io.IDXError, match="expected a 3-d"):
        sn.io.read_idx(str(tmp_path / "t10k-labels-idx1-ubyte"), expect_ndim=3)


def test_makeloss_network_trains_with_the_loss_metric():
    """A regression written as MakeLoss(square(fc(x) - y)): no label input, 'loss' metric."""
    rng = np.random.RandomState(0)
    x = rng.randn(64, 3).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3).astype(np.float32).reshape(-1, 1)
    pred = sym.FullyConnected(sym.Variable("data"), num_hidden=1, name="fc")
    net = sym.MakeLoss(sym.square(pred - sym.Variable("target")), normalization="batch")
    mod = sn.Module(net, data_names=("data", "target"), label_names=None)
    it = sn.io.NDArrayIter({"data": x, "target": y}, batch_size=16)
    mod.fit(it, num_epoch=40, eval_metric="loss", progress=False,
            optimizer_params={"learning_rate": 0.1, "rescale_grad": 1.0})
    final = dict(mod.score(it, "loss"))["loss"]
    assert final < 1e-3
    np.testing.assert_allclose(mod.get_params()[0]["fc_weight"].ravel(), [1.0, -2.0, 0.5], atol=0.02)


def test_an_mxnet_module_script_runs_with_symnorm_imported_as_mx(tmp_path, caplog):
    """The MXNet 1.x Module tutorial's calls, unchanged but for the import."""
    import symnorm as mx
    ctx = mx.gpu() if mx.context.num_gpus() > 0 else mx.cpu()
    x, y = blobs()
    train_iter = mx.io.NDArrayIter(x[:60], y[:60], batch_size=10, shuffle=True)
    val_iter = mx.io.NDArrayIter(x[60:], y[60:], batch_size=10)
    data = mx.sym.var("data")
    fc1 = mx.sym.FullyConnected(data=data, num_hidden=16, name="fc1")
    act1 = mx.sym.Activation(data=fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(data=act1, num_hidden=3, name="fc2")
    net = mx.sym.SoftmaxOutput(data=fc2, name="softmax")
    mod = mx.mod.Module(symbol=net, context=ctx, data_names=["data"], label_names=["softmax_label"])
    with caplog.at_level(logging.INFO):
        mod.fit(train_iter, eval_data=val_iter, optimizer="sgd",
                optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
                eval_metric="acc", batch_end_callback=mx.callback.Speedometer(10, 3),
                epoch_end_callback=mx.callback.do_checkpoint(str(tmp_path / "mlp")), num_epoch=4,
                kvstore=mx.kvstore.create("local"), initializer=mx.init.Xavier(), progress=False)
    assert "Epoch[3] Validation-accuracy=" in caplog.text
    assert mod.score(val_iter, mx.metric.Accuracy())[0][1] > 0.9
    sym, arg, aux = mx.model.load_checkpoint(str(tmp_path / "mlp"), 4)
    assert sorted(arg) == ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"]
    mx.visualization.print_summary(sym, shape={"data": (1, 4)})
    with pytest.raises(ValueError, match="CPU only"):
        mx.gpu(0)


def test_more_metrics_match_mxnet():
    """nll_loss, perplexity (with ignore_label), F1 (macro and micro), pearsonr and custom
    metrics (a function, a (sum, count) function, mx.metric.np) against MXNet 1.9.1's
    values on the same data, local after a reset_local and global."""
    rng = np.random.RandomState(0)
    cls3, bin2, seq = [], [], []
    for _ in range(3):
        p = rng.rand(8, 5)
        cls3.append((rng.randint(0, 5, 8).astype(np.float32), (p / p.sum(1, keepdims=True)).astype(np.float32)))
    for _ in range(3):
        p = rng.rand(10, 2)
        bin2.append((rng.randint(0, 2, 10).astype(np.float32), (p / p.sum(1, keepdims=True)).astype(np.float32)))
    for _ in range(2):
        p = rng.rand(24, 5)
        lab = rng.randint(0, 5, 24).astype(np.float32)
        lab[:3] = 0
        seq.append((lab, (p / p.sum(-1, keepdims=True)).astype(np.float32)))
    reg = [(rng.randn(7).astype(np.float32), (rng.randn(7) + np.arange(7) * 0.3).astype(np.float32))
           for _ in range(3)]

    def mae_feval(label, pred):
        return float(np.abs(label.ravel() - pred.ravel()).mean())

    def pair_feval(label, pred):
        return float(np.abs(label.ravel() - pred.ravel()).sum()), label.size
    cases = [  # metric, data, MXNet's (local, global)
        (sn.metric.create("nll_loss"), cls3, (1.9809380769729614, 1.799381693204244)),
        (sn.metric.create("perplexity", ignore_label=None), cls3, (7.249541287550727, 6.045908322678354)),
        (sn.metric.create("perplexity", ignore_label=0), seq, (np.nan, 5.729960765862969)),
        (sn.metric.create("f1"), bin2, (0.28571428571428575, 0.3952380952380952)),
        (sn.metric.create("f1", average="micro"), bin2, (0.28571428571428575, 0.4)),
        (sn.metric.create("pearsonr"), reg, (0.8971251191823559, 0.24123673481831745)),
        (sn.metric.create(mae_feval), reg, (0.9896112084388733, 1.4287590781847637)),
        (sn.metric.create(pair_feval, name="pairs"), reg, (0.9896112169538226, 1.4287590526399159)),
        (sn.metric.np(mae_feval), reg, (0.9896112084388733, 1.4287590781847637)),
    ]
    for metric, data, (local, total) in cases:
        for i, (label, pred) in enumerate(data):
            metric.update([label], [pred])
            if i == 1:
                metric.reset_local()
        np.testing.assert_allclose([metric.get()[1], metric.get_global()[1]], [local, total],
                                   rtol=1e-6, err_msg=metric.name)
    assert sn.metric.create(mae_feval).name == "mae_feval"
    with pytest.raises(ValueError, match="binary"):
        sn.metric.F1().update([np.array([0, 1, 2])], [np.eye(3)])


def test_bilinear_and_load_initializers(tmp_path):
    w = np.zeros((2, 1, 3, 5), np.float32)
    sn.init.Bilinear()("up_weight", w)
    mx_values = [[0.11111111, 0.22222222, 0.33333334, 0.22222222, 0.11111111],   # MXNet 1.9.1
                 [0.22222222, 0.44444445, 0.6666667, 0.44444445, 0.22222222],
                 [0.33333334, 0.6666667, 1.0, 0.6666667, 0.33333334]]
    np.testing.assert_allclose(w[1, 0], mx_values, rtol=1e-7)
    sn.nd.save(str(tmp_path / "p.params"), {"arg:fc_weight": np.full((2, 3), 4.0, np.float32)})
    load = sn.init.Load(str(tmp_path / "p.params"), default_init=sn.init.One())
    a, b, c = np.zeros((2, 3)), np.zeros(2), np.full(2, 7.0)
    load("fc_weight", a)
    load(sn.init.InitDesc("fc2_weight"), b)          # missing: default_init, by name
    load("fc2_bias", c)                              # (a bias is zero under any initializer)
    assert (a == 4).all() and (b == 1).all() and (c == 0).all()
    with pytest.raises(ValueError, match="'fc_weight' has shape \\(2, 3\\).*\\(3, 3\\)"):
        load("fc_weight", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="'other' is not among the saved values"):
        sn.init.Load({"x": np.zeros(1)})("other", np.zeros(1))


MNIST_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                         "shared", "data", "mnist-t10k")


@pytest.mark.skipif(not os.path.isdir(MNIST_DIR), reason="../shared/data/mnist-t10k not present")
def test_mnist_iter_reads_as_mxnet_does():
    """Values observed from MXNet 1.9.1's MNISTIter on the same t10k files: pixels / 256,
    the first labels, 156 full batches of 64 (the rest dropped), contiguous shards of
    3333/3333/3334, one shuffle at load."""
    files = dict(image=os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz"),
                 label=os.path.join(MNIST_DIR, "t10k-labels-idx1-ubyte.gz"))
    it = sn.io.MNISTIter(batch_size=100, shuffle=False, **files)
    first = next(iter(it))
    assert first.data[0].shape == (100, 1, 28, 28) and first.data[0].max() == 255 / 256
    assert first.label[0][:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    flat = sn.io.MNISTIter(batch_size=64, shuffle=False, flat=True, **files)
    batches = list(flat)
    assert len(batches) == 156 and batches[0].data[0].shape == (64, 784)
    for part, (size, head) in enumerate([(3333, [7, 2, 1]), (3333, [7, 5, 5]), (3334, [7, 6, 6])]):
        shard = sn.io.MNISTIter(batch_size=1, shuffle=False, num_parts=3, part_index=part, **files)
        labels = [b.label[0][0] for b in shard]
        assert len(labels) == size and labels[:3] == head
    shuffled = sn.io.MNISTIter(batch_size=100, seed=3, **files)
    one = next(iter(shuffled)).label[0].copy()
    shuffled.reset()
    assert (next(iter(shuffled)).label[0] == one).all() and one[:10].tolist() != [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_csv_iter_first_epoch_as_mxnet(tmp_path):
    """MXNet 1.9.1's CSVIter on these files (batch 4): rows 0-3, 4-7, then 8, 9 and the
    first two again with pad 2; no label file gives zero labels."""
    np.savetxt(tmp_path / "d.csv", np.arange(30).reshape(10, 3), delimiter=",", fmt="%g")
    np.savetxt(tmp_path / "l.csv", np.arange(10), delimiter=",", fmt="%g")
    it = sn.io.CSVIter(data_csv=str(tmp_path / "d.csv"), data_shape=(3,),
                       label_csv=str(tmp_path / "l.csv"), batch_size=4)
    got = [(b.data[0][:, 0].tolist(), b.label[0].tolist(), b.pad) for b in it]
    assert got == [([0, 3, 6, 9], [0, 1, 2, 3], 0), ([12, 15, 18, 21], [4, 5, 6, 7], 0),
                   ([24, 27, 0, 3], [8, 9, 0, 1], 2)]
    np.savetxt(tmp_path / "d2.csv", np.arange(40).reshape(10, 4), delimiter=",", fmt="%g")
    it = sn.io.CSVIter(data_csv=str(tmp_path / "d2.csv"), data_shape=(2, 2), batch_size=5)
    batch = next(iter(it))
    assert batch.data[0].shape == (5, 2, 2) and not batch.label[0].any()
    assert it.provide_label[0].shape == (5,)
    with pytest.raises(ValueError, match="4 values per row, shape \\(3,\\) needs 3"):
        sn.io.CSVIter(data_csv=str(tmp_path / "d2.csv"), data_shape=(3,))


def test_module_checkpoint_and_logging_callbacks(tmp_path, caplog):
    x, y = blobs()
    mod = sn.Module(small_net())
    it = sn.io.NDArrayIter(x, y, batch_size=30)
    with caplog.at_level(logging.INFO):
        mod.fit(it, eval_data=it, num_epoch=2, progress=False,
                optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
                epoch_end_callback=sn.callback.module_checkpoint(mod, str(tmp_path / "m"), 2, True),
                batch_end_callback=sn.callback.log_train_metric(2),
                eval_end_callback=sn.callback.LogValidationMetricsCallback())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-0002.manifest", "m-0002.params",
                                                          "m-0002.states", "m-symbol.json"]
    lines = [r.getMessage() for r in caplog.records]
    assert "Iter[1] Batch[2] Train-accuracy=" in "\n".join(lines)
    # the callback's line and fit's own: the same value twice
    assert sum(m.startswith("Epoch[1] Validation-accuracy=") for m in lines) == 2
    resumed = sn.Module.load(str(tmp_path / "m"), 2, load_optimizer_states=True)
    resumed.bind(it.provide_data, it.provide_label)
    resumed.init_params()
    resumed.init_optimizer(optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    assert sorted(resumed._states) == sorted(mod._states)


def test_module_input_grads_reshape_params_files_and_monitor(tmp_path):
    x, y = blobs()
    net = small_net()
    mod = sn.Module(net)
    mod.bind([("data", (30, 4))], [("softmax_label", (30,))], inputs_need_grad=True)
    mod.init_params(sn.init.Xavier())
    batch = next(iter(sn.io.NDArrayIter(x, y, batch_size=30)))
    mod.forward_backward(batch)
    (gx,) = mod.get_input_grads()
    ex = net.simple_bind(sn.cpu(), grad_req="write", data=(30, 4), softmax_label=(30,))
    ex.copy_params_from(*mod.get_params())
    ex.forward(is_train=True, data=batch.data[0], softmax_label=batch.label[0])
    ex.backward()
    np.testing.assert_allclose(gx, ex.grad_dict["data"], rtol=1e-6)
    mod.save_params(str(tmp_path / "p.params"))
    other = sn.Module(net)
    other.bind([("data", (30, 4))], [("softmax_label", (30,))], for_training=False)
    other.init_params()
    other.load_params(str(tmp_path / "p.params"))
    for a, b in zip(mod.get_params(), other.get_params()):
        assert all((a[k] == b[k]).all() for k in a)
    other.reshape([("data", (7, 4))], [("softmax_label", (7,))])
    seen = []
    other.install_monitor(lambda name, arr: seen.append((name, arr.shape)))
    out = other.predict(sn.io.NDArrayIter(x[:7], batch_size=7))
    assert out.shape == (7, 3) and ("fc1_output", (7, 8)) in seen
    with pytest.raises(sn.BindError, match="inputs_need_grad=True"):
        other.get_input_grads()


@pytest.mark.parametrize("case", ["sgd", "adam"])
def test_module_fit_equals_mxnet_end_to_end(case):
    """Three epochs of Module.fit from the same start give MXNet 1.9.1's parameters and
    moving statistics: SGD with momentum and weight decay through BatchNorm; Adam with
    weight decay and gradient clipping (fixture: tests/fixtures/fit_mxnet)."""
    import importlib.util
    here = os.path.join(os.path.dirname(__file__), "fixtures", "fit_mxnet")
    spec = importlib.util.spec_from_file_location("fit_problem", os.path.join(here, "problem.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    batchnorm, optimizer, params = gen.CASES[case]
    x, y, arg, aux = gen.problem()
    if not batchnorm:
        arg, aux = {k: v for k, v in arg.items() if not k.startswith("bn_")}, {}
    mod = sn.Module(gen.net(sym, batchnorm))
    mod.fit(sn.io.NDArrayIter(x, y, batch_size=10), num_epoch=3, optimizer=optimizer,
            optimizer_params=params, eval_metric="acc", arg_params=arg, aux_params=aux,
            progress=False)
    got = dict(mod.get_params()[0], **mod.get_params()[1])
    with open(os.path.join(here, "fit.json")) as f:
        want = json.load(f)[case]
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-5, atol=2e-6, err_msg=k)


def test_mxnet_style_monitor_in_fit(caplog):
    """mx.mon.Monitor(interval, pattern): fit calls tic/toc_print around every batch; every
    interval-th batch logs the RMS of each matching output, gradient and argument."""
    x, y = blobs()
    mon = sn.mon.Monitor(2, pattern="fc1.*")
    with caplog.at_level(logging.INFO):
        sn.Module(small_net()).fit(sn.io.NDArrayIter(x, y, batch_size=30), num_epoch=1,
                                   progress=False, monitor=mon)
    lines = [r.getMessage().split() for r in caplog.records if r.getMessage().startswith("Batch:")]
    names = ("fc1_output", "fc1_weight", "fc1_bias", "fc1_backward_output0",
             "fc1_backward_output1", "fc1_backward_output2")
    assert {(l[1], l[2]) for l in lines} == {(b, n) for b in ("1", "3") for n in names}
    assert all(float(l[3]) > 0 for l in lines)
    w = np.arange(6.0)
    assert abs(sn.monitor._rms(w) - np.linalg.norm(w) / np.sqrt(6)) < 1e-12
    with pytest.raises(ValueError, match="interval must be a positive number of batches, got 0"):
        sn.mon.Monitor(0)


def test_module_feeds_multiple_inputs_by_name():
    """Two data inputs given as a dict (the iterator orders them by name) and a Module whose
    data_names list them the other way: each array reaches its own input."""
    a, b = sym.Variable("a"), sym.Variable("b")
    net = sym.SoftmaxOutput(sym.FullyConnected(a, num_hidden=2, name="fa")
                            + sym.FullyConnected(b, num_hidden=2, name="fb"), name="softmax")
    rng = np.random.RandomState(0)
    xa, xb = rng.randn(8, 3).astype(np.float32), rng.randn(8, 5).astype(np.float32)
    it = sn.io.NDArrayIter({"b": xb, "a": xa}, np.arange(8) % 2, batch_size=4)
    mod = sn.Module(net, data_names=("b", "a"))
    mod.fit(it, num_epoch=1, progress=False)
    out = mod.predict(it)
    params = mod.get_params()[0]
    logits = xa @ params["fa_weight"].T + params["fa_bias"] + xb @ params["fb_weight"].T + params["fb_bias"]
    e = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(out, e / e.sum(1, keepdims=True), rtol=1e-5)
    batch = sn.io.DataBatch([xa[:4], xb[:4]], [np.zeros(4)])    # no names: the bind order (a, b)
    mod.forward(batch, is_train=False)
    np.testing.assert_allclose(mod.get_outputs()[0], out[:4], rtol=1e-5)


def test_set_params_with_allow_missing_keeps_the_others():
    """MXNet 1.9.1 (measured): set_params(..., allow_missing=True) leaves the parameters it
    was not given as they are; init_params(..., allow_missing=True) initializes them; a
    given dict, even empty, must hold every parameter of its kind otherwise."""
    net = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=2, name="fc"),
                            name="softmax")
    mod = sn.Module(net)
    mod.bind([("data", (3, 4))], [("softmax_label", (3,))])
    mod.init_params(arg_params={"fc_weight": np.full((2, 4), 5.0), "fc_bias": np.full(2, 7.0)})
    mod.set_params({"fc_weight": np.ones((2, 4))}, {}, allow_missing=True)
    arg = mod.get_params()[0]
    assert (arg["fc_bias"] == 7).all() and (arg["fc_weight"] == 1).all()
    mod.init_params(arg_params={"fc_weight": np.ones((2, 4))}, allow_missing=True, force_init=True)
    assert (mod.get_params()[0]["fc_bias"] == 0).all()
    with pytest.raises(sn.BindError, match="'fc_weight', 'fc_bias' are not presented"):
        mod.set_params({}, {})
