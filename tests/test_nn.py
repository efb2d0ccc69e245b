"""Operator semantics against hand-written numpy references (loops, not our kernels)."""
import itertools

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym


def run(s, train=True, **arrays):
    shapes = {k: v.shape for k, v in arrays.items()}
    ex = s.simple_bind(sn.cpu(), type_dict={k: np.float64 for k in arrays}, **shapes)
    for k, v in arrays.items():
        ex.arg_dict[k][...] = v
    return ex, ex.forward(is_train=train)


def conv_loop(x, w, b, stride, pad, dilate, groups):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dilate[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilate[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, f, oh, ow))
    fg = f // groups
    for ni, fi, i, j in itertools.product(range(n), range(f), range(oh), range(ow)):
        g = fi // fg
        acc = b[fi] if b is not None else 0.0
        for ci, a, bb in itertools.product(range(cg), range(kh), range(kw)):
            acc += w[fi, ci, a, bb] * xp[ni, g * cg + ci, i * stride[0] + a * dilate[0], j * stride[1] + bb * dilate[1]]
        out[ni, fi, i, j] = acc
    return out


@pytest.mark.parametrize("kw", [dict(kernel=(3, 3), num_filter=3),
                                dict(kernel=(3, 2), num_filter=4, stride=(2, 1), pad=(1, 0)),
                                dict(kernel=(3, 3), num_filter=2, dilate=(2, 2), pad=(2, 1)),
                                dict(kernel=(3, 3), num_filter=4, num_group=2, pad=(1, 1)),
                                dict(kernel=(3, 3), num_filter=4, num_group=4, no_bias=True),
                                dict(kernel=(3, 3), num_filter=4, num_group=4, stride=(2, 2), pad=(1, 1))])
def test_convolution_against_direct_loop(rng, kw):
    x = rng.randn(2, 4, 7, 6)
    s = sym.Convolution(sym.Variable("data"), name="c", **kw)
    args, _, _ = s.infer_shape(data=x.shape)
    w = rng.randn(*args[1])
    b = None if kw.get("no_bias") else rng.randn(kw["num_filter"])
    arrays = {"data": x, "c_weight": w}
    if b is not None:
        arrays["c_bias"] = b
    _, (y,) = run(s, **arrays)
    ref = conv_loop(x, w, b, kw.get("stride", (1, 1)), kw.get("pad", (0, 0)),
                    kw.get("dilate", (1, 1)), kw.get("num_group", 1))
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)


def pool_loop(x, k, s, p, kind, convention="valid", include_pad=True):
    n, c, h, w = x.shape
    def size(d, kk, ss, pp):
        span = d + 2 * pp - kk
        return (span // ss if convention == "valid" else -(-span // ss)) + 1
    oh, ow = size(h, k[0], s[0], p[0]), size(w, k[1], s[1], p[1])
    out = np.zeros((n, c, oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
        h1, w1 = min(h0 + k[0], h + p[0]), min(w0 + k[1], w + p[1])
        win = x[:, :, max(h0, 0):min(h1, h), max(w0, 0):min(w1, w)]
        if kind == "max":
            out[:, :, i, j] = win.max(axis=(2, 3))
        elif kind == "sum":
            out[:, :, i, j] = win.sum(axis=(2, 3))
        else:
            cnt = (h1 - h0) * (w1 - w0) if include_pad else win.shape[2] * win.shape[3]
            out[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return out


@pytest.mark.parametrize("kind,k,s,p,conv,incl", [
    ("max", (2, 2), (2, 2), (0, 0), "valid", True), ("max", (2, 2), (2, 2), (0, 0), "full", True),
    ("max", (3, 3), (2, 2), (1, 1), "valid", True), ("avg", (3, 3), (2, 2), (1, 1), "valid", True),
    ("avg", (3, 3), (2, 2), (1, 1), "valid", False), ("avg", (2, 2), (2, 2), (0, 0), "full", True),
    ("sum", (2, 3), (1, 2), (0, 1), "valid", True)])
def test_pooling_against_loop(rng, kind, k, s, p, conv, incl):
    x = rng.randn(2, 3, 5, 7)
    op = sym.Pooling(sym.Variable("data"), kernel=k, stride=s, pad=p, pool_type=kind,
                     pooling_convention=conv, count_include_pad=incl)
    _, (y,) = run(op, data=x)
    np.testing.assert_allclose(y, pool_loop(x, k, s, p, kind, conv, incl), rtol=1e-12)


def test_max_pool_gradient_goes_to_the_first_maximum_on_ties():
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
    ex, _ = run(sym.Pooling(sym.Variable("data"), kernel=(2, 2), pool_type="max"), data=x)
    ex.backward([np.ones((1, 1, 1, 1))])
    np.testing.assert_array_equal(ex.grad_dict["data"], [[[[0, 1], [0, 0]]]])


def test_global_pool(rng):
    x = rng.randn(2, 3, 4, 5)
    _, (y,) = run(sym.Pooling(sym.Variable("data"), global_pool=True, pool_type="avg"), data=x)
    np.testing.assert_allclose(y[..., 0, 0], x.mean(axis=(2, 3)))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("kw,scale", [({}, 1.0), ({"normalization": "batch"}, 1 / 4),
                                      ({"grad_scale": 3.0}, 3.0)])
def test_softmax_output_gradient(rng, kw, scale):
    z = rng.randn(4, 5)
    lab = np.array([1, 0, 4, 2])
    ex, (p,) = run(sym.SoftmaxOutput(sym.Variable("data"), name="s", **kw), data=z, s_label=lab)
    np.testing.assert_allclose(p, softmax(z), rtol=1e-12)
    ex.backward()
    np.testing.assert_allclose(ex.grad_dict["data"], (softmax(z) - np.eye(5)[lab]) * scale, rtol=1e-12)


def test_softmax_output_ignore_label_and_valid(rng):
    z = rng.randn(4, 3)
    lab = np.array([1, -1, 2, -1])
    ex, _ = run(sym.SoftmaxOutput(sym.Variable("data"), name="s", use_ignore=True,
                                  normalization="valid"), data=z, s_label=lab)
    ex.backward()
    g = softmax(z) - np.eye(3)[np.where(lab < 0, 0, lab)]
    g[lab < 0] = 0
    np.testing.assert_allclose(ex.grad_dict["data"], g / 2, rtol=1e-12)


def test_softmax_output_multi_output(rng):
    z = rng.randn(2, 3, 2, 2)
    lab = np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
    ex, (p,) = run(sym.SoftmaxOutput(sym.Variable("data"), name="s", multi_output=True,
                                     normalization="valid"), data=z, s_label=lab)
    pr = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, pr, rtol=1e-12)
    ex.backward()
    onehot = np.moveaxis(np.eye(3)[lab.reshape(2, 2, 2)], -1, 1)
    np.testing.assert_allclose(ex.grad_dict["data"], (pr - onehot) / 8, rtol=1e-12)


@pytest.mark.parametrize("shape,target,rev,out", [
    ((2, 3, 4), (0, -1), False, (2, 12)), ((2, 3, 4), (-1,), False, (24,)),
    ((2, 3, 4), (4, 0, -1), False, (4, 3, 2)), ((2, 3, 4), (-2,), False, (2, 3, 4)),
    ((2, 3, 4, 5), (-3, -2), False, (6, 4, 5)), ((2, 3, 4), (-4, 1, 2, -2), False, (1, 2, 3, 4)),
    ((2, 12), (0, -4, 3, -1), False, (2, 3, 4)), ((2, 3, 4), (-1, 0), True, (6, 4)),
    ((2, 3, 4), (-1, 0), False, (8, 3))])
def test_reshape_codes(shape, target, rev, out):
    s = sym.Reshape(sym.Variable("x"), shape=target, reverse=rev)
    assert s.infer_shape(x=shape)[1] == [out]


def test_dropout_training_inference_and_seed():
    x = np.ones((200, 50))
    s = sym.Dropout(sym.Variable("data"), p=0.3)
    sn.random.seed(5)
    ex, (y,) = run(s, data=x)
    kept = y != 0
    assert 0.6 < kept.mean() < 0.8 and np.allclose(y[kept], 1 / 0.7)
    ex.backward([np.ones_like(x)])
    np.testing.assert_array_equal(ex.grad_dict["data"], y)         # same mask
    sn.random.seed(5)
    _, (y2,) = run(s, data=x)
    np.testing.assert_array_equal(y, y2)
    _, (y3,) = run(s, train=False, data=x)
    np.testing.assert_array_equal(y3, x)
    _, (y4,) = run(sym.Dropout(sym.Variable("data"), p=0.3, mode="always"), train=False, data=x)
    assert (y4 == 0).any()


def test_fully_connected_flatten_modes(rng):
    x = rng.randn(2, 3, 4)
    s = sym.FullyConnected(sym.Variable("data"), num_hidden=5, flatten=False, name="fc")
    w, b = rng.randn(5, 4), rng.randn(5)
    _, (y,) = run(s, data=x, fc_weight=w, fc_bias=b)
    np.testing.assert_allclose(y, x @ w.T + b)
    s = sym.FullyConnected(sym.Variable("data"), num_hidden=5, name="fc")
    w = rng.randn(5, 12)
    _, (y,) = run(s, data=x, fc_weight=w, fc_bias=b)
    np.testing.assert_allclose(y, x.reshape(2, 12) @ w.T + b)


def test_activation_relu_gradient_at_zero_is_zero():
    ex, _ = run(sym.Activation(sym.Variable("data"), act_type="relu"), data=np.array([-1.0, 0.0, 2.0]))
    ex.backward([np.ones(3)])
    np.testing.assert_array_equal(ex.grad_dict["data"], [0, 0, 1])


def test_makeloss_normalizations():
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    for norm, expect in (("null", 1.0), ("batch", 0.5), ("valid", 0.5)):
        ex, _ = run(sym.MakeLoss(sym.Variable("data"), normalization=norm), data=x)
        ex.backward()
        np.testing.assert_allclose(ex.grad_dict["data"], np.full((2, 2), expect))


def test_convolution_backward_after_inference_forward(rng):
    s = sym.Convolution(sym.Variable("data"), kernel=(3, 3), num_filter=2, name="c")
    x, w = rng.randn(2, 3, 5, 5), rng.randn(2, 3, 3, 3)
    grads = []
    for is_train in (True, False):
        ex, _ = run(s, train=is_train, data=x, c_weight=w, c_bias=np.zeros(2))
        ex.backward([np.ones((2, 2, 3, 3))], is_train=is_train)
        grads.append(ex.grad_dict["c_weight"].copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


@pytest.mark.parametrize("kw,shape", [
    (dict(kernel=(3, 3), num_filter=2), (2, 3, 4, 5)),
    (dict(kernel=(4, 3), num_filter=4, stride=(2, 2), pad=(1, 1), num_group=2), (1, 2, 3, 4)),
    (dict(kernel=(3, 3), num_filter=3, stride=(2, 1), dilate=(1, 2), pad=(0, 2)), (2, 2, 3, 5))])
def test_deconvolution_is_the_adjoint_of_convolution(rng, kw, shape):
    x = rng.randn(*shape)
    d = sym.Deconvolution(sym.Variable("data"), name="d", **kw)
    args, outs, _ = d.infer_shape(data=shape)
    w = rng.randn(*args[1])
    _, (y,) = run(d, data=x, d_weight=w)
    z = rng.randn(*outs[0])
    conv_kw = {k: v for k, v in kw.items() if k != "num_filter"}
    c = sym.Convolution(sym.Variable("data"), num_filter=shape[1], no_bias=True, name="c", **conv_kw)
    _, (cz,) = run(c, data=z, c_weight=w)
    assert cz.shape == x.shape
    np.testing.assert_allclose((y * z).sum(), (x * cz).sum(), rtol=1e-10)


def test_deconvolution_target_shape_and_errors():
    d = sym.Deconvolution(sym.Variable("x"), kernel=(4, 4), stride=(2, 2), num_filter=3,
                          target_shape=(16, 17))
    assert d.infer_shape(x=(1, 2, 8, 8))[1] == [(1, 3, 16, 17)]
    with pytest.raises(sn.ShapeError, match="target_shape"):
        d.infer_shape(x=(1, 2, 2, 2))
    with pytest.raises(sn.ParamError, match="adj"):
        sym.Deconvolution(sym.Variable("x"), kernel=(3, 3), adj=(1,), num_filter=2)


@pytest.mark.parametrize("params,shape", [
    (dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max"), (2, 3, 9, 8)),
    (dict(kernel=(3, 3), stride=(2, 2), pool_type="max", pooling_convention="full"), (2, 2, 8, 7)),
    (dict(kernel=(3, 2), stride=(2, 2), pool_type="avg", pad=(1, 0), count_include_pad=False), (1, 2, 10, 9)),
    (dict(kernel=(3, 3), stride=(2, 2), pool_type="sum", pooling_convention="same"), (2, 2, 7, 5)),
    (dict(kernel=(3, 3), stride=(2, 2), pool_type="lp", p_value=2), (1, 2, 7, 7)),
    (dict(kernel=(3,), stride=(2,), pool_type="max"), (2, 3, 11)),
    (dict(kernel=(2, 3, 2), stride=(2, 2, 1), pool_type="max", pad=(1, 1, 0)), (1, 2, 5, 6, 4)),
])
@pytest.mark.parametrize("layout", [None, "batch_last"])
def test_pooling_phase_split_gives_the_direct_result(params, shape, layout, rng, monkeypatch):
    """Strided pooling with overlapping windows reads them from the input split by stride
    phase when the direct strided views would have short inner runs; both ways compute the
    same, bit for bit."""
    from symnorm.ops.pool import Pooling
    from symnorm.runtime.kernels.pool import PoolRun
    op = PoolRun(Pooling.create(params), bool(layout))
    x = rng.randn(*shape)
    x[0, 0, 1] = x[0, 0, 2]                         # ties: the first maximum takes the gradient
    if layout:
        x = np.ascontiguousarray(np.moveaxis(x, 0, -1))
    results = []
    for run in (0, 1 << 30):                      # never / always split by phase
        monkeypatch.setattr(PoolRun, "PHASE_RUN", run)
        res = op.forward(x, train=True)
        assert res[2][-1] == (run > 0)
        dy = np.random.RandomState(1).randn(*res[0][0].shape)
        results.append((res[0][0], op.backward(res[2], dy)[0]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_pooling_splits_by_phase_only_for_overlapping_strided_windows():
    from symnorm.ops.pool import Pooling
    from symnorm.runtime.kernels.pool import PoolRun
    x = np.zeros((2, 3, 8, 8))
    uses = lambda **p: PoolRun(Pooling.create(p), False).forward(x, train=True)[2][-1]   # noqa: E731
    assert uses(kernel=(3, 3), stride=(2, 2), pool_type="max")
    assert not uses(kernel=(2, 2), stride=(2, 2), pool_type="avg")       # tiling: one read each
    assert not uses(kernel=(3, 3), stride=(1, 1), pool_type="max")       # unit stride already


def test_average_pooling_divides_by_a_scalar_when_every_window_has_one_count():
    from symnorm.ops.pool import Pooling
    from symnorm.runtime.kernels.pool import PoolRun

    def divisor(**p):
        op = PoolRun(Pooling.create(dict(pool_type="avg", **p)), False)
        geom = op._window((8, 8))
        return op._divisor((8, 8), geom, np.dtype(np.float32))
    assert np.ndim(divisor(kernel=(2, 2), stride=(2, 2))) == 0 and divisor(kernel=(2, 2), stride=(2, 2)) == 4
    assert np.ndim(divisor(kernel=(3, 3), stride=(2, 2), pad=(1, 1))) == 0      # pads counted
    edge = divisor(kernel=(3, 3), stride=(2, 2), pad=(1, 1), count_include_pad=False)
    assert edge.shape == (4, 4) and edge[0, 0] == 4 and edge[1, 1] == 9


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("layout_pass", [False, True])
def test_convolution_results_never_alias_scratch_buffers(batch, layout_pass, rng):
    """Convolution's temporaries live in reused per-thread buffers; its outputs and input
    gradients must be arrays of their own (with N = 1 a transpose of a buffer is a view)."""
    x = sn.sym.Variable("data")
    c1 = sn.sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=3, name="c1")
    c2 = sn.sym.Convolution(c1, kernel=(3, 3), pad=(1, 1), num_filter=3, name="c2")
    net = sn.sym.Group([c1, c2])
    ex = net.simple_bind(sn.cpu(), data=(batch, 3, 5, 5), layout_pass=layout_pass)
    for a in ex.arg_dict.values():
        a[...] = rng.randn(*a.shape)
    o1, o2 = [o.copy() for o in ex.forward(is_train=True)]
    w1, b1 = ex.arg_dict["c1_weight"], ex.arg_dict["c1_bias"]
    single = sn.sym.Convolution(sn.sym.Variable("data"), kernel=(3, 3), pad=(1, 1), num_filter=3, name="c1")
    e1 = single.simple_bind(sn.cpu(), data=(batch, 3, 5, 5), layout_pass=layout_pass)
    e1.copy_params_from({"data": ex.arg_dict["data"], "c1_weight": w1, "c1_bias": b1})
    np.testing.assert_allclose(o1, e1.forward()[0], rtol=1e-5, atol=1e-6)
    ex.backward([np.ones_like(o1), np.ones_like(o2)])
    g = ex.grad_dict["data"].copy()
    ex.forward(is_train=True)
    ex.backward([np.ones_like(o1), np.ones_like(o2)])
    np.testing.assert_array_equal(ex.grad_dict["data"], g)
    np.testing.assert_array_equal(ex.outputs[0], o1)


def test_scratch_buffers_are_reused_evicted_and_released():
    from symnorm.runtime import buffers
    sn.release_buffers()
    a = buffers.workspace((4, 5), np.float32, "t")
    assert buffers.workspace((4, 5), np.float32, "t") is a
    assert buffers.workspace((4, 5), np.float32, "u") is not a           # tags keep them apart
    old = buffers.WORKSPACE_LIMIT
    try:
        buffers.WORKSPACE_LIMIT = 200                                     # bytes: room for two
        buffers.workspace((4, 5), np.float32, "t")                        # t is now the most recent
        buffers.workspace((10,), np.float32, "v")                         # evicts u, keeps t
        assert buffers.workspace((4, 5), np.float32, "t") is a
    finally:
        buffers.WORKSPACE_LIMIT = old
    big = buffers.recycled_empty((buffers.RECYCLE_MIN // 4 + 1,), np.float32)
    held = big
    del big
    assert buffers.recycled_empty(held.shape, np.float32) is not held     # still referenced
    key = (held.shape, np.dtype(np.float32))
    del held
    sn.release_buffers()
    assert key not in buffers._RECYCLE


@pytest.mark.parametrize("m, n, k", [(6, 25, 8 * 512 + 37), (6, 25, 100), (32, 40, 9000)])
def test_thin_products_cut_into_pieces_equal_the_plain_product(m, n, k, rng):
    from symnorm.runtime.kernels import blas
    a, b = rng.rand(m, k), rng.rand(n, k)
    np.testing.assert_allclose(blas.matmul_nt(a, b), np.einsum("mk,nk->mn", a, b), rtol=1e-12)
    wide = rng.rand(n, k)                                          # (n, k) against (m, n)
    small = rng.rand(m, n)
    out = np.full((m, k), np.nan)
    assert blas.matmul_wide(small, wide, out=out) is out
    np.testing.assert_allclose(out, np.einsum("mn,nk->mk", small, wide), rtol=1e-12)


def test_first_layer_products_take_the_thin_paths_and_are_exact(rng, monkeypatch):
    from symnorm.runtime.kernels import blas
    calls = []
    orig = np.matmul
    monkeypatch.setattr(blas.np, "matmul", lambda a, b, **k: calls.append((a.shape, b.shape)) or orig(a, b, **k))
    x = rng.randn(8, 1, 34, 34)                                 # 32·32·8 = 8192 positions
    s = sym.Convolution(sym.Variable("data"), kernel=(3, 3), num_filter=4, name="c")
    w, bias = rng.randn(4, 1, 3, 3), rng.randn(4)
    ex = s.bind(sn.cpu(), {"data": x, "c_weight": w, "c_bias": bias},
                args_grad={"c_weight": np.zeros_like(w)}, grad_req={"data": "null", "c_weight": "write",
                                                                     "c_bias": "null"})
    dy = rng.randn(8, 4, 32, 32)
    y = ex.forward(is_train=True)[0]
    ex.backward([dy])
    patches = np.stack([x[:, 0, i:i + 32, j:j + 32] for i in range(3) for j in range(3)])  # (9, N, H, W)
    np.testing.assert_allclose(y, np.einsum("fk,knhw->nfhw", w.reshape(4, 9), patches)
                               + bias[:, None, None], rtol=1e-10)
    np.testing.assert_allclose(ex.grad_dict["c_weight"].reshape(4, 9),
                               np.einsum("nfhw,knhw->fk", dy, patches), rtol=1e-10)
    # forward: 8 column pieces of 1024; dW: 16 reduction pieces of 512 (in one batched
    # product, or split between threads in parallel mode)
    fwd = [b for a, b in calls if a == (4, 9) and b[1:] == (9, 1024)]
    dw = [a for a, b in calls if a[1:] == (4, 512) and b[1:] == (512, 9)]
    assert sum(b[0] for b in fwd) == 8 and sum(a[0] for a in dw) == 16


@pytest.mark.parametrize("shape", [(5, 3, 4, 2), (7, 6), (3,), (0, 4), (4, 2, 3, 5, 3)])
def test_last_axis_first_equals_moveaxis(shape, rng, monkeypatch):
    """Blocked along the first axis (blocks of 1, 2 and the remainder with MOVE_BLOCK
    forced small), cropped views too."""
    from symnorm.runtime.kernels import blas
    monkeypatch.setattr(blas, "MOVE_BLOCK", 50)
    x = rng.randn(*shape)
    for view in (x, x[1:] if x.ndim > 1 and len(x) > 1 else x, x[..., ::2]):
        got = blas.last_axis_first(view)
        np.testing.assert_array_equal(got, np.moveaxis(view, -1, 0))
        assert got.flags.c_contiguous and not np.may_share_memory(got, view)
        into = np.full(got.shape, np.nan)                      # every element written
        np.testing.assert_array_equal(blas.last_axis_first(view, out=into), got)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_blocked_activation_gradients_cover_every_block(act, rng, monkeypatch):
    """The sigmoid/tanh gradients run in cache blocks: with a 7-element block and 3 blocks
    and a remainder, every element still gets dy·f'(x)."""
    from symnorm.runtime.kernels import blas
    monkeypatch.setattr(blas, "CACHE_BLOCK", 7)
    x, dy = rng.randn(2, 12), rng.randn(2, 12)
    ex = sym.Activation(sym.Variable("x"), act_type=act).simple_bind(
        sn.cpu(), type_dict={"x": np.float64}, x=x.shape)
    y = ex.forward(is_train=True, x=x)[0]
    ex.backward(dy)
    expect = dy * (y * (1 - y) if act == "sigmoid" else 1 - y * y)
    np.testing.assert_allclose(ex.grad_dict["x"], expect, rtol=1e-12)
    out = np.full(25, np.nan)                                  # 3 blocks and a remainder
    blas.elementwise(lambda o, a, b: np.subtract(a, b, out=o), out, np.arange(25.0), np.ones(25),
                    blocked=True)
    np.testing.assert_array_equal(out, np.arange(25.0) - 1)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_copy_runs_equals_a_plain_strided_copy(n, dtype, rng, monkeypatch):
    from symnorm.runtime.kernels import blas
    monkeypatch.setattr(blas, "RUN_MIN_ELEMS", 1)               # the opaque-item path too
    x = rng.randn(3, 10, 11, n).astype(dtype)
    src = x[:, 1::2, ::3]                                      # strided, short runs of n
    dst = np.full(src.shape, np.nan, dtype)
    blas.copy_runs(dst, src)
    np.testing.assert_array_equal(dst, src)
    back = np.zeros_like(x)
    blas.copy_runs(back[:, 1::2, ::3], dst)                     # into a strided destination
    np.testing.assert_array_equal(back[:, 1::2, ::3], src)
    assert not back[:, ::2].any()                              # nothing else written


@pytest.mark.parametrize("n", [1, 3, 8])
@pytest.mark.parametrize("stride", [(1, 1), (2, 2)])
def test_depthwise_blocks_of_channels_give_the_direct_loop(n, stride, rng, monkeypatch):
    from symnorm.ops.conv import Convolution
    from symnorm.runtime.kernels.conv import ConvRun
    monkeypatch.setattr(ConvRun, "STACK_ELEMS", 40)            # several channel blocks
    c = 5
    x = rng.randn(n, c, 7, 6)
    w, b = rng.randn(c, 1, 3, 3), rng.randn(c)
    kw = {"kernel": (3, 3), "num_filter": c, "num_group": c, "pad": (1, 1), "stride": stride}
    op = ConvRun(Convolution.create(kw), batch_last=True)
    xt = np.ascontiguousarray(x.transpose(1, 2, 3, 0))
    outs, _, saved = op.forward(xt, w, b, train=True)
    np.testing.assert_allclose(outs[0].transpose(3, 0, 1, 2), conv_loop(x, w, b, stride, (1, 1), (1, 1), c),
                               rtol=1e-10, atol=1e-10)
    dy = rng.randn(*outs[0].shape)
    dx, dw, db = op.backward(saved, dy)
    # the weight gradient against the direct sum: dW[c, i, j] = Σ dy[c, o] · x_pad[c, s·o + (i, j)]
    xp = np.pad(xt, ((0, 0), (1, 1), (1, 1), (0, 0)))
    oh, ow = dy.shape[1:3]
    ref = np.array([[[np.sum(dy[ci] * xp[ci, i:i + stride[0] * (oh - 1) + 1:stride[0],
                                         j:j + stride[1] * (ow - 1) + 1:stride[1]])
                      for j in range(3)] for i in range(3)] for ci in range(c)])
    np.testing.assert_allclose(dw[:, 0], ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, dy.sum(axis=(1, 2, 3)), rtol=1e-10)
    # the input gradient: every output's dy, weighted, back onto the inputs it read
    dxp = np.zeros_like(xp)
    for i in range(3):
        for j in range(3):
            dxp[:, i:i + stride[0] * (oh - 1) + 1:stride[0], j:j + stride[1] * (ow - 1) + 1:stride[1]] += \
                dy * w[:, 0, i, j][:, None, None, None]
    np.testing.assert_allclose(dx, dxp[:, 1:-1, 1:-1], rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ PReLU's gamma starts at 0.25

def test_prelu_gamma_starts_at_a_quarter_under_any_initializer():
    # MXNet's LeakyReLU sets __init__ = ["Constant", {"value": 0.25}] on its gamma variable
    # when composed (FSetInputVarAttrOnCompose); the *_gamma name rule would give 1 (linear)
    net = sym.LeakyReLU(sym.Variable("data"), act_type="prelu", name="p")
    init = '["Constant", {"value": 0.25}]'
    assert net.attr_dict()["p_gamma"]["__init__"] == init
    for initializer in (sn.init.Xavier(), sn.init.Uniform(), sn.init.One()):
        mod = sn.Module(net, label_names=None)
        mod.bind([("data", (2, 3, 4))], for_training=True)
        mod.init_params(initializer)
        np.testing.assert_array_equal(mod.get_params()[0]["p_gamma"], 0.25)
    again = sn.sym.load_json(net.tojson())                 # the attribute is saved, as MXNet's
    assert again.attr_dict()["p_gamma"]["__init__"] == init
    # a user's gamma variable gets it unless it has its own; leaky ReLU has no gamma at all
    mine = sym.LeakyReLU(sym.Variable("x"), gamma=sym.Variable("g"), act_type="prelu")
    assert mine.attr_dict()["g"]["__init__"] == init
    own = sym.LeakyReLU(sym.Variable("x"), gamma=sym.Variable("g", init=sn.init.One()), act_type="prelu")
    assert own.attr_dict()["g"]["__init__"] == sn.init.One().dumps()
    assert sym.LeakyReLU(sym.Variable("x"), name="l").list_arguments() == ["x"]


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh"])
def test_standalone_activation_ops_are_activation(act, rng):
    """MXNet has both sym.relu and Activation(act_type='relu') (and sigmoid, tanh): one
    implementation serves both, so they agree bit for bit, in training and inference,
    including in place."""
    x = (rng.standard_normal((64, 33)) * 3).astype(np.float32)
    x[0, :3] = 0.0
    dy = rng.standard_normal((64, 33)).astype(np.float32)
    results = []
    for net in (getattr(sym, act)(sym.Variable("x")),
                sym.Activation(sym.Variable("x"), act_type=act)):
        ex = net.simple_bind(sn.cpu(), x=x.shape)
        y_infer = ex.forward(is_train=False, x=x)[0].copy()
        y = ex.forward(is_train=True, x=x)[0].copy()
        ex.backward(out_grads=[dy])
        results.append((y_infer, y, ex.grad_dict["x"].copy()))
    for a, b in zip(*results):
        assert np.array_equal(a, b)
