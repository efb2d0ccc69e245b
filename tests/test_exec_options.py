"""ExecOptions: an executor's options are one record that ``reshape`` passes on whole."""
import dataclasses

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym
from symnorm.exec_options import ExecOptions


class TwoEqualRanks(sn.kv.Collective):
    """A communicator of two ranks holding the same data: sums double, so SyncBatchNorm's
    statistics equal BatchNorm's, and the calls are counted."""
    size = 2

    def __init__(self):
        self.calls = 0

    def allreduce_sum(self, buf):
        self.calls += 1
        buf *= 2
        return buf


def syncbn_net():
    return sym.contrib.SyncBatchNorm(sym.Variable("data"), fix_gamma=False, name="bn")


def _monitor(name, arr):
    pass


# one non-default value per field: a field added to ExecOptions without one fails below
PROBES = {"grad_req": {"data": "null", "bn_gamma": "add", "bn_beta": "write"},
          "aux_update": "forward", "ctx": sn.cpu(1), "layout_pass": False,
          "inplace": False, "nan_check": True, "collective": TwoEqualRanks(),
          "monitor": _monitor, "monitor_all": True}


def test_every_option_survives_reshape():
    names = [f.name for f in dataclasses.fields(ExecOptions)]
    assert sorted(PROBES) == sorted(names), "give every ExecOptions field a probe value"
    for name in names:
        ex = syncbn_net().simple_bind(sn.cpu(), data=(8, 3))
        assert getattr(ex.options, name) != PROBES[name], name
        ex._set_options(ex.options.replace(**{name: PROBES[name]}))
        small = ex.reshape(data=(4, 3))
        assert getattr(small.options, name) == PROBES[name], name
        assert small.options == ex.options
        assert small.reshape(allow_up_sizing=True, data=(16, 3)).options == ex.options


def test_reshaped_executor_still_uses_communicator_monitor_nan_check_inplace(rng):
    ex = syncbn_net().simple_bind(sn.cpu(), data=(8, 3))
    comm, seen = TwoEqualRanks(), []
    ex.set_collective(comm)
    ex.set_monitor_callback(lambda name, arr: seen.append(name))
    ex.nan_check = True
    ex.inplace = False
    small = ex.reshape(data=(4, 3))
    assert (small.collective, small.nan_check, small.inplace) == (comm, True, False)
    small.forward(is_train=True, data=rng.randn(4, 3))
    assert comm.calls == 1                       # SyncBatchNorm still all-reduces
    assert "bn_output" in seen                   # the monitor still watches
    with pytest.raises(FloatingPointError, match="nan_check"):
        small.forward(is_train=True, data=np.full((4, 3), np.nan))


def test_options_are_frozen_and_validated():
    ex = syncbn_net().simple_bind(sn.cpu(), data=(8, 3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.options.nan_check = True
    with pytest.raises(TypeError):
        ex.options.grad_req["data"] = "null"          # a read-only mapping
    with pytest.raises(sn.BindError, match="aux_update must be one of"):
        ex.options.replace(aux_update="never")
    with pytest.raises(sn.BindError, match="grad_req=sometimes is not a valid input"):
        ex.options.replace(grad_req={"data": "sometimes"})


def test_backward_writes_where_grad_arrays_and_grad_req_say_at_each_step(rng):
    # the executor keeps its {slot: gradient buffer} between steps (BatchNorm writes the
    # data gradient straight into it): replacing the gradient arrays or grad_req must
    # still be seen by the next backward
    def bound():
        net = sym.BatchNorm(sym.Variable("data"), fix_gamma=False, name="bn")
        ex = net.simple_bind(sn.cpu(), data=(4, 5))
        ex.arg_dict["bn_gamma"][:] = 1.5
        return ex

    def data_grad(x, dy):
        ref = bound()
        ref.forward(is_train=True, data=x)
        ref.backward(dy)
        return ref.np_grad_dict["data"].copy()

    ex = bound()
    xs, dy = [rng.randn(4, 5) for _ in range(3)], rng.randn(4, 5)
    ex.forward(is_train=True, data=xs[0])
    ex.backward(dy)
    old = ex.np_grad_dict["data"]
    np.testing.assert_allclose(old, data_grad(xs[0], dy), rtol=1e-6)
    fresh = {k: (None if v is None else np.zeros_like(v)) for k, v in ex.np_grad_dict.items()}
    ex.grad_dict = fresh
    ex.forward(is_train=True, data=xs[1])
    ex.backward(dy)
    np.testing.assert_allclose(fresh["data"], data_grad(xs[1], dy), rtol=1e-6)  # the new array
    np.testing.assert_allclose(old, data_grad(xs[0], dy), rtol=1e-6)            # not the old one
    ex._set_options(ex.options.replace(grad_req={"data": "add", "bn_gamma": "write",
                                                 "bn_beta": "write"}))
    ex.forward(is_train=True, data=xs[2])
    ex.backward(dy)
    np.testing.assert_allclose(fresh["data"], data_grad(xs[1], dy) + data_grad(xs[2], dy),
                               rtol=1e-5, atol=1e-6)                          # added
