"""The normalization layers at extreme scales: float32 (and float16) results equal a float64
reference within rounding, for inputs whose float32 sums of squares overflow (nanosecond
timestamps ~1.7e18, values ~1e30), whose spread makes backward's constants underflow (std
1e15), and the exact-path cases (mean 1e4, spread 1e-2).  A variance that does not fit the
aux dtype (1e60 in float32) is not committed (the executor's rule for non-finite proposals)."""
import logging

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym


class TwoEqualRanks(sn.kv.Collective):
    """Two ranks with the same data: SyncBatchNorm's all-reduce path, BatchNorm's numbers."""
    size = 2

    def allreduce_sum(self, buf):
        buf *= 2
        return buf


OPS = {"BatchNorm": (lambda x: sym.BatchNorm(x, fix_gamma=False, name="n"), (32, 3, 4)),
       "BatchNorm2d": (lambda x: sym.BatchNorm(x, fix_gamma=False, name="n"), (64, 3)),
       "SyncBatchNorm": (lambda x: sym.contrib.SyncBatchNorm(x, fix_gamma=False, name="n"), (32, 3, 4)),
       "LayerNorm": (lambda x: sym.LayerNorm(x, name="n"), (4, 3, 32)),
       "InstanceNorm": (lambda x: sym.InstanceNorm(x, name="n"), (2, 3, 64)),
       "GroupNorm": (lambda x: sym.GroupNorm(x, num_groups=2, name="n"), (2, 4, 32))}

SCALES = {"timestamps": lambda r, s: 1.7e18 + r.randn(*s) * 1e13,
          "std 1e15": lambda r, s: 3e14 + r.randn(*s) * 1e15,
          "1e30": lambda r, s: r.randn(*s) * 1e30,
          "mean 1e30": lambda r, s: 1e30 + r.randn(*s) * 1e28,
          "exact path": lambda r, s: 1e4 + r.randn(*s) * 1e-2,
          "ordinary": lambda r, s: r.randn(*s)}


def run(op, x, dy, dtype):
    make, _ = OPS[op]
    ex = make(sym.Variable("data")).simple_bind(sn.cpu(), type_dict={"data": dtype}, data=x.shape)
    if op == "SyncBatchNorm":
        ex.set_collective(TwoEqualRanks())
    for k, a in ex.arg_dict.items():
        if k != "data":
            a[...] = np.linspace(0.5, 1.5, a.size) if k.endswith("gamma") else np.linspace(-1, 1, a.size)
    for a in ex.aux_dict.values():
        a[...] = 0.5
    y = ex.forward(is_train=True, data=x.astype(dtype))[0]
    ex.backward([dy.astype(dtype)])
    return ([y] + [g for g in ex.grad_dict.values() if g is not None],
            [a.astype(np.float64) for a in ex.aux_dict.values()])


def close(got, want, tol):
    got = np.asarray(got, np.float64)
    return np.abs(got - want).max() <= tol * np.abs(want).max()


@pytest.mark.parametrize("scale", sorted(SCALES))
@pytest.mark.parametrize("op", sorted(OPS))
def test_float32_equals_float64_reference(op, scale, caplog):
    rng = np.random.RandomState(0)
    shape = OPS[op][1]
    x = SCALES[scale](rng, shape).astype(np.float32).astype(np.float64)
    dy = rng.randn(*shape)
    want, want_aux = run(op, x, dy, np.float64)
    with caplog.at_level(logging.WARNING, logger="symnorm"):
        got, got_aux = run(op, x, dy, np.float32)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == np.float32 and close(g, w, 2e-5 if i == 0 else 1e-4), \
            (i, np.abs(g - w).max(), np.abs(w).max())
    fits = all(np.abs(a).max() < 3e38 for a in want_aux)
    for g, w in zip(got_aux, want_aux):
        if fits:
            assert close(g, w, 1e-5)
        else:               # a variance of ~1e60 has no float32 value: not committed
            assert (g == 0.5).all()
    assert fits == (not caplog.records), [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("op", sorted(OPS))
def test_float16_at_its_largest_values(op):
    rng = np.random.RandomState(1)
    shape = OPS[op][1]
    x = rng.uniform(-6e4, 6e4, shape).astype(np.float16).astype(np.float64)
    dy = rng.randn(*shape)
    want, want_aux = run(op, x, dy, np.float64)
    got, got_aux = run(op, x, dy, np.float16)
    for g, w in zip(got, want):
        assert np.isfinite(g).all() and close(g, w, 2e-3)
    for g, w in zip(got_aux, want_aux):
        assert close(g, w, 1e-5)


def test_float64_statistics_beyond_float64_raise():
    # squares overflow float64 but the shifted sums do not: computed
    ex = sym.BatchNorm(sym.Variable("data"), name="bn").simple_bind(
        sn.cpu(), type_dict={"data": "float64"}, data=(1000, 2))
    y = ex.forward(is_train=True, data=1e154 + np.random.RandomState(0).randn(1000, 2) * 1e150)[0]
    np.testing.assert_allclose(y.std(axis=0), 1, rtol=1e-6)

    ex = sym.BatchNorm(sym.Variable("data"), name="bn").simple_bind(
        sn.cpu(), type_dict={"data": "float64"}, data=(8, 2))
    with pytest.raises(sn.OpError, match="BatchNorm 'bn'.*overflow float64.*scale the input"):
        ex.forward(is_train=True, data=np.random.RandomState(0).randn(8, 2) * 1e160)
    assert (ex.aux_dict["bn_moving_var"] == 0).all()


@pytest.mark.parametrize("op", ["BatchNorm", "SyncBatchNorm", "InstanceNorm", "GroupNorm", "LayerNorm"])
def test_huge_gradients_of_large_values(op):
    # Σdy·x passes float32's range (1e25 · 1e17 · N): backward redoes its sums in float64
    rng = np.random.RandomState(2)
    shape = OPS[op][1]
    x = (rng.randn(*shape) * 1e17).astype(np.float32).astype(np.float64)
    dy = rng.randn(*shape) * 1e25
    want, _ = run(op, x, dy, np.float64)
    got, _ = run(op, x, dy, np.float32)
    for i, (g, w) in enumerate(zip(got, want)):
        assert close(g, w, 1e-4), (i, np.abs(g - w).max(), np.abs(w).max())


@pytest.mark.parametrize("op", ["BatchNorm", "LayerNorm", "InstanceNorm", "GroupNorm"])
def test_huge_inputs_compute_under_errstate_raise(op):
    """Values around 3e19 overflow float32's one-pass sums: the careful path is taken
    even when the user runs with np.errstate(over='raise') (it raised FloatingPointError)."""
    x = (np.random.RandomState(0).rand(8, 3, 4, 4).astype(np.float32) * 2 + 1) * 3e19
    kw = {"fix_gamma": False} if op == "BatchNorm" else {"num_groups": 1} if op == "GroupNorm" else {}
    ex = getattr(sn.sym, op)(sn.sym.Variable("data"), name="n", **kw).simple_bind(sn.cpu(), data=x.shape)
    ex.arg_dict["n_gamma"][:] = 1
    with np.errstate(over="raise", invalid="raise"):
        out = ex.forward(is_train=True, data=x)[0]
        ex.backward(np.ones_like(out))
    assert np.isfinite(out).all() and abs(float(out.std()) - 1) < 1e-3
