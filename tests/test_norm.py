"""BatchNorm, LayerNorm, InstanceNorm, GroupNorm against float64 numpy references written
from the formulas (not from symnorm's output)."""
import numpy as np
import pytest

import symnorm as sn
from symnorm import sym


def ref_bn_train(x, gamma, beta, axis, eps):
    """Forward and the textbook gradient function, in float64."""
    x = x.astype(np.float64)
    red = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    shp = [1] * x.ndim
    shp[axis % x.ndim] = -1
    mean, var = x.mean(red), x.var(red)
    inv = 1 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(shp)) * inv.reshape(shp)
    y = xhat * gamma.reshape(shp) + beta.reshape(shp)
    m = x.size / x.shape[axis % x.ndim]

    def grads(dy):
        dy = dy.astype(np.float64)
        dbeta = dy.sum(red)
        dgamma = (dy * xhat).sum(red)
        dxhat = dy * gamma.reshape(shp)
        dx = inv.reshape(shp) / m * (m * dxhat - dxhat.sum(red).reshape(shp)
                                     - xhat * (dxhat * xhat).sum(red).reshape(shp))
        return dx, dgamma, dbeta
    return y, mean, var, inv, grads


def run_bn(x, gamma, beta, mm, mv, dy=None, is_train=True, dtype=np.float32, **kw):
    net = sym.BatchNorm(sym.Variable("data"), name="bn", **kw)
    ex = net.simple_bind(sn.cpu(), type_dict={"data": dtype}, data=x.shape)
    ex.arg_dict["data"][:] = x
    ex.arg_dict["bn_gamma"][:] = gamma
    ex.arg_dict["bn_beta"][:] = beta
    ex.aux_dict["bn_moving_mean"][:] = mm
    ex.aux_dict["bn_moving_var"][:] = mv
    outs = [o.copy() for o in ex.forward(is_train=is_train)]
    if dy is not None:
        ex.backward([dy] + [np.zeros(o.shape) for o in outs[1:]], is_train=is_train)
    return ex, outs


def inputs(rng, shape, axis=1):
    c = shape[axis]
    return (rng.randn(*shape) * 2 + 0.5, rng.rand(c) + 0.5, rng.randn(c), rng.randn(c),
            rng.rand(c) + 0.5, rng.randn(*shape))


@pytest.mark.parametrize("shape,axis", [((4, 3, 5, 5), 1), ((4, 5, 3, 2), -1), ((3, 5, 4), 2),
                                        ((3, 5, 4), -1), ((16, 6), 1), ((2, 3, 2, 3, 2), 1),
                                        ((5, 4, 3), 0)])
def test_training_forward_backward_and_moving_update(rng, shape, axis):
    x, g, b, mm, mv, dy = inputs(rng, shape, axis)
    ex, outs = run_bn(x, g, b, mm, mv, dy, fix_gamma=False, axis=axis, eps=1e-5, momentum=0.8,
                      output_mean_var=True, dtype=np.float64)
    y, mean, var, inv, grads = ref_bn_train(x, g, b, axis, 1e-5)
    np.testing.assert_allclose(outs[0], y, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(outs[1], mean, rtol=1e-10)
    np.testing.assert_allclose(outs[2], inv, rtol=1e-10)          # "var" holds 1/sqrt(var+eps)
    dx, dgamma, dbeta = grads(dy)
    np.testing.assert_allclose(ex.grad_dict["data"], dx, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ex.grad_dict["bn_gamma"], dgamma, rtol=1e-8)
    np.testing.assert_allclose(ex.grad_dict["bn_beta"], dbeta, rtol=1e-8)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_mean"], mm * 0.8 + mean * 0.2, rtol=1e-10)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_var"], mv * 0.8 + var * 0.2, rtol=1e-10)


@pytest.mark.parametrize("shape,rows", [((6, 4, 2, 3), 3), ((12, 2, 3, 2), 3), ((5, 4, 3, 2), 5)])
def test_grouped_rows_give_the_same_results(rng, monkeypatch, shape, rows):
    """Rows of the (pre, C·L) plane are grouped r at a time (r | pre) with tiled
    per-channel vectors; forced here on small shapes (r = 2, 4 and 1)."""
    from symnorm.runtime.kernels import bn_passes as _bnkernel
    monkeypatch.setattr(_bnkernel, "GROUP_MIN_ROW", 4)
    monkeypatch.setattr(_bnkernel, "WIDE_ROW", 60)
    x2, per = _bnkernel.plane(np.zeros(shape).reshape(shape[0], shape[1], -1))
    assert x2.shape[0] == rows
    v = np.arange(shape[1], dtype=float)
    np.testing.assert_array_equal(np.broadcast_to(per(v), x2.shape).reshape(shape),
                                  np.broadcast_to(v.reshape(1, -1, 1, 1), shape))
    test_training_forward_backward_and_moving_update(rng, shape, 1)
    x, g, b, mm, mv, dy = inputs(rng, shape)
    _, outs = run_bn(x, g, b, mm, mv, is_train=False, fix_gamma=False, dtype=np.float64)
    shp = (1, -1, 1, 1)
    np.testing.assert_allclose(outs[0], (x - mm.reshape(shp)) / np.sqrt(mv.reshape(shp) + 1e-3)
                               * g.reshape(shp) + b.reshape(shp), rtol=1e-10, atol=1e-12)


def test_inference_and_use_global_stats_use_moving_statistics(rng):
    x, g, b, mm, mv, dy = inputs(rng, (4, 3, 2, 2))
    expect = (x - mm.reshape(1, 3, 1, 1)) / np.sqrt(mv.reshape(1, 3, 1, 1) + 1e-3) \
        * g.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1)
    for is_train, kw in ((False, {}), (True, {"use_global_stats": True})):
        ex, outs = run_bn(x, g, b, mm, mv, dy, is_train=is_train, fix_gamma=False,
                          output_mean_var=True, dtype=np.float64, **kw)
        np.testing.assert_allclose(outs[0], expect, rtol=1e-10)
        np.testing.assert_allclose(outs[1], mm)
        np.testing.assert_allclose(outs[2], 1 / np.sqrt(mv + 1e-3))
        # moving statistics are constants: affine gradients, no update
        inv = (1 / np.sqrt(mv + 1e-3)).reshape(1, 3, 1, 1)
        np.testing.assert_allclose(ex.grad_dict["data"], dy * g.reshape(1, 3, 1, 1) * inv, rtol=1e-10)
        xhat = (x - mm.reshape(1, 3, 1, 1)) * inv
        np.testing.assert_allclose(ex.grad_dict["bn_gamma"], (dy * xhat).sum((0, 2, 3)), rtol=1e-10)
        np.testing.assert_allclose(ex.grad_dict["bn_beta"], dy.sum((0, 2, 3)), rtol=1e-10)
        np.testing.assert_array_equal(ex.aux_dict["bn_moving_mean"], mm)
        np.testing.assert_array_equal(ex.aux_dict["bn_moving_var"], mv)


def test_fix_gamma_uses_one_gives_no_gradient_and_pins_the_array(rng):
    x, g, b, mm, mv, dy = inputs(rng, (6, 3))
    ex, outs = run_bn(x, g * 3, b, mm, mv, dy, dtype=np.float64)       # fix_gamma default
    y, *_ = ref_bn_train(x, np.ones(3), b, 1, 1e-3)
    np.testing.assert_allclose(outs[0], y, rtol=1e-10)
    assert not ex.grad_dict["bn_gamma"].any()
    np.testing.assert_array_equal(ex.arg_dict["bn_gamma"], 1.0)           # MXNet writes ones
    # grad_req='add' adds nothing to gamma
    net = sym.BatchNorm(sym.Variable("data"), name="bn")
    ex = net.simple_bind(sn.cpu(), grad_req="add", data=(6, 3))
    ex.grad_dict["bn_gamma"][:] = 0.25
    ex.forward(is_train=True, data=x)
    ex.backward([dy])
    np.testing.assert_allclose(ex.grad_dict["bn_gamma"], 0.25)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 1.0])
def test_momentum_extremes(rng, momentum):
    x, g, b, mm, mv, dy = inputs(rng, (6, 3))
    ex, _ = run_bn(x, g, b, mm, mv, dy, momentum=momentum, dtype=np.float64)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_mean"],
                               mm * momentum + x.mean(0) * (1 - momentum), rtol=1e-10)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_var"],
                               mv * momentum + x.var(0) * (1 - momentum), rtol=1e-10)


@pytest.mark.parametrize("shape", [(16, 4, 5, 5), (64, 8, 16, 16)])   # the second: > 1 block
def test_float32_keeps_accuracy_when_mean_dwarfs_spread(rng, shape):
    """A channel with mean 1e4 and spread 1e-2: one-pass float32 statistics would give
    noise; symnorm's shifted sums stay close to the float64 result."""
    c = shape[1]
    x = (1e4 + 1e-2 * rng.randn(*shape)).astype(np.float32)
    g, b, dy = rng.rand(c) + 0.5, rng.randn(c), rng.randn(*shape).astype(np.float32)
    ex, outs = run_bn(x, g, b, np.zeros(c), np.ones(c), dy, fix_gamma=False, eps=1e-6)
    y, mean, var, inv, grads = ref_bn_train(x, g, b, 1, 1e-6)
    assert np.abs(outs[0] - y).max() < 2e-3 * np.abs(y).max()
    dx, dgamma, dbeta = grads(dy)
    assert np.abs(ex.grad_dict["data"] - dx).max() < 2e-3 * np.abs(dx).max()
    np.testing.assert_allclose(ex.grad_dict["bn_gamma"], dgamma.ravel(), rtol=2e-3,
                               atol=2e-3 * np.abs(dgamma).max())
    np.testing.assert_allclose(ex.grad_dict["bn_beta"], dbeta.ravel(), rtol=1e-4)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_mean"], 0.1 * mean, rtol=1e-6)


def test_float16_data_computes_in_float32(rng):
    x, g, b, mm, mv, dy = inputs(rng, (8, 3))
    ex, outs = run_bn(x.astype(np.float16), g, b, mm, mv, dy, fix_gamma=False, dtype=np.float16)
    assert outs[0].dtype == np.float16 and ex.arg_dict["bn_gamma"].dtype == np.float32
    y, *_ = ref_bn_train(x.astype(np.float16), g, b, 1, 1e-3)
    np.testing.assert_allclose(outs[0], y, atol=5e-3)


def test_constant_channel_outputs_beta(rng):
    x, g, b, mm, mv, dy = inputs(rng, (4, 3, 2, 2))
    x[:, 1] = 2.5
    ex, outs = run_bn(x, g, b, mm, mv, dy, fix_gamma=False, dtype=np.float64)
    np.testing.assert_allclose(outs[0][:, 1], b[1], atol=1e-12)
    assert abs(ex.grad_dict["bn_gamma"][1]) < 1e-10
    assert np.isfinite(ex.grad_dict["data"]).all()


def test_single_value_per_channel_in_training_raises_naming_the_node(rng):
    net = sym.BatchNorm(sym.Variable("data"), name="bn1")
    ex = net.simple_bind(sn.cpu(), data=(1, 3))
    with pytest.raises(sn.ShapeError, match="BatchNorm 'bn1'.*more than 1 value per channel.*\\(1, 3\\)"):
        ex.forward(is_train=True, data=np.ones((1, 3)))
    ex.forward(is_train=False, data=np.ones((1, 3)))       # inference with a batch of one is fine
    ex4 = net.simple_bind(sn.cpu(), data=(1, 3, 2, 2))      # 4-D batch of one: spatial stats
    ex4.forward(is_train=True, data=rng.randn(1, 3, 2, 2))


def test_head_gradients_of_mean_and_var_are_ignored(rng):
    x, g, b, mm, mv, dy = inputs(rng, (5, 2, 3))
    net = sym.BatchNorm(sym.Variable("data"), name="bn", output_mean_var=True, fix_gamma=False)
    grads = []
    for scale in (0, 100):
        ex = net.simple_bind(sn.cpu(), data=x.shape)
        ex.arg_dict["data"][:] = x
        ex.arg_dict["bn_gamma"][:] = g
        ex.forward(is_train=True)
        ex.backward([dy, rng.randn(2) * scale, rng.randn(2) * scale])
        grads.append(ex.grad_dict["data"].copy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_cudnn_off_accepted_and_ignored(rng):
    x, g, b, mm, mv, dy = inputs(rng, (6, 3))
    _, a = run_bn(x, g, b, mm, mv, fix_gamma=False)
    _, c = run_bn(x, g, b, mm, mv, fix_gamma=False, cudnn_off=True)
    np.testing.assert_array_equal(a[0], c[0])


# ------------------------------------------------------------------ the rest of the family

def ref_norm(x, axes, eps):
    mean = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps), mean, var


def test_layernorm(rng):
    x = rng.randn(2, 3, 5) * 2 + 1
    g, b = rng.rand(5) + 0.5, rng.randn(5)
    net = sym.LayerNorm(sym.Variable("data"), name="ln", output_mean_var=True)
    ex = net.simple_bind(sn.cpu(), type_dict={"data": np.float64}, data=x.shape)
    ex.arg_dict["data"][:] = x
    ex.arg_dict["ln_gamma"][:] = g
    ex.arg_dict["ln_beta"][:] = b
    y, m, s = ex.forward(is_train=True)
    xhat, mean, var = ref_norm(x, -1, 1e-5)
    np.testing.assert_allclose(y, xhat * g + b, rtol=1e-10)
    np.testing.assert_allclose(m, mean, rtol=1e-10)
    np.testing.assert_allclose(s, np.sqrt(var + 1e-5), rtol=1e-10)    # std, not inverse
    assert m.shape == (2, 3, 1)


def test_layernorm_other_axis_and_ntc(rng):
    x = rng.randn(3, 4, 2)
    net = sym.LayerNorm(sym.Variable("data"), name="ln", axis=1)
    ex = net.simple_bind(sn.cpu(), type_dict={"data": np.float64}, data=x.shape)
    ex.arg_dict["data"][:] = x
    ex.arg_dict["ln_gamma"][:] = 1
    y = ex.forward()[0]
    np.testing.assert_allclose(y, ref_norm(x, 1, 1e-5)[0], rtol=1e-10)


def test_instancenorm_same_in_training_and_inference(rng):
    x = rng.randn(2, 3, 4, 5) * 2 + 1
    g, b = rng.rand(3) + 0.5, rng.randn(3)
    net = sym.InstanceNorm(sym.Variable("data"), name="in")
    ex = net.simple_bind(sn.cpu(), type_dict={"data": np.float64}, data=x.shape)
    ex.arg_dict["data"][:] = x
    ex.arg_dict["in_gamma"][:] = g
    ex.arg_dict["in_beta"][:] = b
    expect = ref_norm(x, (2, 3), 1e-3)[0] * g.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(ex.forward(is_train=True)[0], expect, rtol=1e-10)
    np.testing.assert_allclose(ex.forward(is_train=False)[0], expect, rtol=1e-10)
    assert net.list_auxiliary_states() == []


def test_groupnorm_scales_whole_groups(rng):
    x = rng.randn(2, 4, 3, 3) * 2 + 1
    g, b = np.array([0.5, 2.0]), np.array([1.0, -1.0])
    net = sym.GroupNorm(sym.Variable("data"), num_groups=2, name="gn", output_mean_var=True)
    assert net.infer_shape(data=x.shape)[0][1:] == [(2,), (2,)]
    ex = net.simple_bind(sn.cpu(), type_dict={"data": np.float64}, data=x.shape)
    ex.arg_dict["data"][:] = x
    ex.arg_dict["gn_gamma"][:] = g
    ex.arg_dict["gn_beta"][:] = b
    y, mean, std = ex.forward(is_train=True)
    xg = x.reshape(2, 2, -1)
    xhat, m, v = ref_norm(xg, -1, 1e-5)
    expect = (xhat * g.reshape(1, 2, 1) + b.reshape(1, 2, 1)).reshape(x.shape)
    np.testing.assert_allclose(y, expect, rtol=1e-10)
    np.testing.assert_allclose(mean, m[..., 0], rtol=1e-10)
    np.testing.assert_allclose(std, np.sqrt(v[..., 0] + 1e-5), rtol=1e-10)


@pytest.mark.parametrize("op,kw", [("LayerNorm", {}), ("InstanceNorm", {}),
                                   ("GroupNorm", {"num_groups": 2})])
def test_family_params_validated(op, kw):
    with pytest.raises(sn.ParamError, match="eps"):
        getattr(sym, op)(sym.Variable("x"), eps=0.0, **kw)


def _run_family(op, kw, x, dy, dtype):
    net = getattr(sym, op)(sym.Variable("data"), name="n", **kw)
    ex = net.simple_bind(sn.cpu(), type_dict={"data": dtype}, data=x.shape)
    rng = np.random.RandomState(1)
    for k in ("n_gamma", "n_beta"):
        ex.arg_dict[k][:] = rng.rand(*ex.arg_dict[k].shape) + 0.5
    ex.arg_dict["data"][:] = x
    y = ex.forward(is_train=True)[0].astype(np.float64)
    ex.backward(dy.astype(dtype))
    return [y] + [ex.grad_dict[k].astype(np.float64) for k in ("data", "n_gamma", "n_beta")]


FAMILY = [("LayerNorm", {}, (16, 8, 520)), ("LayerNorm", {"axis": 1}, (4, 40, 6, 7)),
          ("InstanceNorm", {}, (4, 8, 64, 64)), ("GroupNorm", {"num_groups": 4}, (4, 8, 64, 64))]


@pytest.mark.parametrize("op,kw,shape", FAMILY)
@pytest.mark.parametrize("offset", [0.0, 1e3])       # 1e3 with spread 1: the exact shifted path
def test_family_float32_matches_float64(rng, op, kw, shape, offset):
    """LayerNorm/InstanceNorm/GroupNorm run BatchNorm's kernels over their rows (blocked
    passes on tensors of several blocks, the exact path when a row's mean dwarfs its
    spread): float32 results agree with float64 ones."""
    x = (offset + rng.randn(*shape)).astype(np.float32)
    dy = rng.randn(*shape)
    got = _run_family(op, kw, x, dy, np.float32)
    want = _run_family(op, kw, x.astype(np.float64), dy, np.float64)
    for name, g, w in zip(("y", "dx", "dgamma", "dbeta"), got, want):
        assert np.abs(g - w).max() <= 2e-3 * np.abs(w).max(), name


@pytest.mark.parametrize("op,kw,shape", FAMILY[:1] + FAMILY[2:])
def test_family_float16_computes_in_float32(rng, op, kw, shape):
    x = rng.randn(*shape).astype(np.float16)
    dy = rng.randn(*shape)
    got = _run_family(op, kw, x, dy, np.float16)
    want = _run_family(op, kw, x.astype(np.float64), dy.astype(np.float16), np.float64)
    assert np.abs(got[0] - want[0]).max() <= 1e-2 * np.abs(want[0]).max()
    assert np.abs(got[1] - want[1]).max() <= 1e-2 * np.abs(want[1]).max()


@pytest.mark.parametrize("op,kw,shape", [
    ("BatchNorm", {"fix_gamma": False}, (6, 3)),
    ("BatchNorm", {"fix_gamma": False}, (4, 3, 2, 2)),
    ("LayerNorm", {}, (4, 5)),
    ("GroupNorm", {"num_groups": 2}, (3, 4, 2, 2)),
])
@pytest.mark.parametrize("offset", [1.0, 1e3])               # the fast and the exact path
def test_statistics_outputs_overwritten_in_place_leave_backward_intact(rng, op, kw, shape, offset):
    """mean/var (or std) outputs consumed by ops that run in place over them: backward's
    saved state must not alias them (it did for BatchNorm's mean and 1/std)."""
    bn = getattr(sym, op)(sym.Variable("data"), name="n", output_mean_var=True, **kw)
    uses = [sym.BlockGrad(sym.Activation(bn[k], act_type=act)) for k, act in ((1, "relu"), (2, "sigmoid"))]
    net = sym.Group([sym.MakeLoss(sym.sum(bn[0] * bn[0]))] + uses)
    x = offset + 3 * rng.randn(*shape)
    grads = []
    for inplace in (True, False):
        ex = net.simple_bind(sn.cpu(), data=shape)
        ex.inplace = inplace
        ex.arg_dict["data"][:] = x
        ex.arg_dict["n_gamma"][:] = 1.5
        for _ in range(2):
            ex.forward(is_train=True)
            ex.backward()
        grads.append(ex.grad_dict["data"].copy())
    np.testing.assert_array_equal(grads[0], grads[1])
