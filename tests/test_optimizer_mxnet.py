"""Optimizer states as MXNet 1.9.1 keeps them (fixture: fixtures/optimizer_mxnet, made by
its gen script with MXNet): NAG's lr-scaled momentum (so a schedule changes later steps as
in MXNet), multi_precision's float32 master copies for float16 weights, RMSProp's 1-tuple."""
import json
import os

import numpy as np
import pytest

import symnorm as sn

FIX = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "optimizer_mxnet",
                                  "optimizer_mxnet.json")))


def _flat(state) -> list:
    """Every number of a (nested) state, in order."""
    if state is None:
        return []
    if isinstance(state, (tuple, list)) and not isinstance(state[0], (int, float)):
        return [x for s in state for x in _flat(s)]
    return np.asarray(state, np.float64).ravel().tolist()


@pytest.mark.parametrize("case", FIX["cases"], ids=lambda c: "%s-%s" % (c["name"], c["dtype"]))
def test_updates_and_states_match_mxnet(case):
    kwargs = dict(case["kwargs"])
    sched = kwargs.pop("schedule", None)
    if sched:
        kwargs["lr_scheduler"] = sn.lr_scheduler.FactorScheduler(
            step=1, factor=sched, base_lr=kwargs["learning_rate"])
    opt = sn.optimizer.create(case["name"], multi_precision=case["multi_precision"], **kwargs)
    w = np.array(FIX["weight0"], case["dtype"])
    state = opt.create_state_multi_precision(0, w)
    for g in FIX["grads"]:
        opt.update_multi_precision(0, w, np.array(g, case["dtype"]), state)
    assert w.dtype == np.dtype(case["dtype"])
    np.testing.assert_allclose(w, case["weight"], rtol=2e-3 if case["dtype"] == "float16" else 1e-5)
    np.testing.assert_allclose(_flat(state), _flat(case["state"]), rtol=1e-5, atol=1e-7)
    assert _layout(state) == _layout(case["state"])      # tuples where MXNet has tuples


def _layout(state):
    """The nesting of a state: 'a' for an array, a list for a tuple (JSON: a list of lists)."""
    if isinstance(state, tuple) or (isinstance(state, list) and isinstance(state[0], list)):
        return [_layout(s) for s in state]
    return "a"


def test_constructors_take_mxnets_lazy_update():
    """MXNet 1.9.1's SGD and Adam take lazy_update (its sparse-gradient mode; every gradient
    here is dense, so it changes nothing)."""
    for name in ("sgd", "adam"):
        w = np.ones(3)
        opt = sn.optimizer.create(name, lazy_update=False, learning_rate=0.1)
        opt.update(0, w, np.ones(3), opt.create_state(0, w))
        assert (w < 1).all()


def test_module_keeps_float32_master_copies_of_float16_weights(tmp_path):
    """Module updates through the multi-precision pair, as MXNet's updater: a float16 module
    with multi_precision=True steps a float32 master copy (saved and restored with the
    other states)."""
    net = sn.sym.LinearRegressionOutput(sn.sym.FullyConnected(
        sn.sym.Variable("data", dtype="float16"), num_hidden=2, name="fc"), name="lro")
    mod = sn.mod.Module(net, label_names=["lro_label"])
    mod.bind(data_shapes=[sn.io.DataDesc("data", (4, 3), np.float16)],
             label_shapes=[sn.io.DataDesc("lro_label", (4, 2), np.float16)])
    mod.init_params(initializer=sn.init.Constant(0.01))
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 1e-4, "momentum": 0.9,
                                                          "multi_precision": True})
    batch = sn.io.DataBatch([np.ones((4, 3), np.float16)], [np.ones((4, 2), np.float16)])
    for _ in range(3):
        mod.forward_backward(batch)
        mod.update()
    mom, master = mod._states[0]
    assert master.dtype == np.float32 and mom.dtype == np.float32
    w = mod.get_params()[0]["fc_weight"]
    assert w.dtype == np.float16 and (w == master.astype(np.float16)).all()
    assert (master != np.float32(0.01)).all()
    path = str(tmp_path / "s.states")
    mod.save_optimizer_states(path)
    saved = master.copy()
    master[...] = 0
    mod.load_optimizer_states(path)
    np.testing.assert_array_equal(mod._states[0][1], saved)
