"""The plain reference Convolution / Deconvolution / Pooling (ops/spatial_reference.py)
computes what the optimized executor computes: every op example plus configurations that
reach the corners (dilation, groups, depthwise, 1-d/3-d, adj and target_shape, every pooling
convention and type, count_include_pad, ties in max pooling, stride > kernel), in float32
and float64, with the layout pass on (the op inside a batch-last region; explicitly, so that
SYMNORM_LAYOUT=nchw in the environment does not turn it off) and off."""
from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

import symnorm as sn
from symnorm.ops import spatial_reference as ref
from symnorm.registry import REGISTRY

from harness import build

CONV = [
    ({"kernel": (3, 3), "num_filter": 4, "dilate": (2, 2), "pad": (2, 1), "stride": (1, 2)}, (2, 3, 7, 8)),
    ({"kernel": (2, 2), "num_filter": 6, "num_group": 3, "pad": (1, 0)}, (2, 6, 5, 5)),
    ({"kernel": (3, 3), "num_filter": 4, "num_group": 4, "stride": (2, 2), "dilate": (2, 1),
      "pad": (1, 1)}, (2, 4, 7, 7)),                                                     # depthwise
    ({"kernel": (3,), "num_filter": 4, "num_group": 2, "dilate": (2,), "stride": (2,), "pad": (1,),
      "no_bias": True}, (2, 4, 11)),
    ({"kernel": (2, 2, 2), "num_filter": 2, "num_group": 2, "dilate": (1, 2, 1), "pad": (1, 0, 1)},
     (1, 4, 4, 5, 3)),
    ({"kernel": (2, 2), "num_filter": 3, "stride": (3, 3)}, (2, 2, 8, 7)),              # stride > kernel
    ({"kernel": (1, 1), "num_filter": 2, "stride": (2, 2), "pad": (1, 0)}, (2, 3, 5, 5)),
]

DECONV = [
    ({"kernel": (3, 3), "num_filter": 4, "stride": (2, 3), "dilate": (2, 1), "pad": (1, 2),
      "num_group": 2, "no_bias": False}, (2, 4, 3, 4)),
    ({"kernel": (3,), "num_filter": 2, "dilate": (3,), "adj": (2,)}, (1, 2, 5)),      # adj >= stride
    ({"kernel": (4, 4), "num_filter": 3, "stride": (2, 2), "target_shape": (9, 10)}, (1, 3, 4, 5)),
    ({"kernel": (2, 3, 2), "num_filter": 2, "stride": (2, 1, 2), "pad": (0, 1, 0), "adj": (1, 0, 1),
      "no_bias": False}, (1, 2, 2, 3, 2)),
    ({"kernel": (2,), "num_filter": 3, "stride": (3,), "no_bias": False}, (2, 2, 4)),  # stride > kernel
]


def _pool(**kw):
    return kw


POOL = [
    (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pooling_convention="full"), (2, 2, 6, 7)),
    (_pool(kernel=(3, 2), stride=(2, 3), pooling_convention="same"), (1, 2, 5, 7)),
    (_pool(kernel=(2,), stride=(3,)), (2, 3, 10)),
    (_pool(global_pool=True), (2, 3, 4, 5)),
    (_pool(kernel=(2, 2, 2), stride=(2, 2, 2), pad=(1, 1, 1), pooling_convention="full"), (1, 2, 3, 4, 5)),
    (_pool(kernel=(3, 3), stride=(1, 1), pad=(1, 1)), (1, 2, 4, 4)),
]
POOL = [(dict(p, pool_type="max"), s) for p, s in POOL] + [
    (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pooling_convention="full", pool_type="avg"), (2, 2, 6, 6)),
    (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pooling_convention="full", pool_type="avg",
           count_include_pad=False), (2, 2, 6, 6)),
    (_pool(kernel=(3, 3), stride=(2, 2), pooling_convention="same", pool_type="avg"), (1, 2, 5, 6)),
    # 'same' takes no pad (MXNet refuses one): count_include_pad=False over its own padding
    (_pool(kernel=(3, 3), stride=(2, 2), pooling_convention="same", pool_type="avg",
           count_include_pad=False), (1, 2, 5, 6)),
    (_pool(kernel=(2, 2, 2), stride=(1, 2, 2), pad=(1, 0, 1), pool_type="avg"), (1, 2, 3, 4, 4)),
    (_pool(kernel=(2,), stride=(3,), pad=(1,), pool_type="avg", count_include_pad=False), (2, 2, 9)),
    (_pool(kernel=(2, 3), stride=(1, 2), pad=(1, 1), pooling_convention="full", pool_type="sum"), (2, 2, 5, 6)),
    (_pool(global_pool=True, pool_type="sum"), (2, 3, 7)),
    (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="lp", p_value=1), (2, 2, 5, 5)),
    (_pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="lp", p_value=2), (2, 2, 5, 5)),
    (_pool(kernel=(3,), stride=(2,), pooling_convention="full", pool_type="lp", p_value=3), (2, 2, 8)),
    (_pool(global_pool=True, pool_type="lp", p_value=2), (1, 2, 3, 3)),
    (_pool(kernel=(2, 2, 2), pad=(0, 1, 1), pool_type="lp", p_value=3), (1, 2, 3, 3, 4)),
]


def _cases(name, extra):
    out = [(name, p, s["data"]) for p, s in REGISTRY[name].examples()]
    return out + [(name, p, s) for p, s in extra]


CASES = _cases("Convolution", CONV) + _cases("Deconvolution", DECONV) + _cases("Pooling", POOL)


def _ids(cases):
    return ["%s-%d" % (c[0], i) for i, c in enumerate(cases)]


def _executor_run(name, params, shape, values, dy, layout_pass):
    """(output, {argument: gradient}) from the symnorm executor, forward is_train=True."""
    sym = build(name, params, {"data": shape})
    if layout_pass:
        # a head never runs batch-last: give the op a consumer so the layout pass rewrites it
        sym = sn.sym.identity(sym)
    dtype = values["data"].dtype
    ex = sym.simple_bind(sn.cpu(), grad_req="write", layout_pass=layout_pass,
                         type_dict={k: dtype for k in values}, data=shape)
    if layout_pass and name != "Deconvolution":          # (Deconvolution has no twin)
        assert ex.plan.symbol is not sym, "the layout pass did not rewrite the graph"
    for k, v in values.items():
        ex.arg_dict[k][...] = v
    y = np.array(ex.forward(is_train=True)[0])
    ex.backward(out_grads=[dy])
    grads = {k: np.array(g) for k, g in ex.grad_dict.items() if g is not None}
    return y, grads


def _reference(name, op, values, dy):
    """(output, {argument: gradient}) from the reference functions."""
    x = values["data"]
    if name == "Pooling":
        y = ref.pool_forward(op, x)
        return y, {"data": ref.pool_backward(op, x, y, dy)}
    w, b = values["node_weight"], values.get("node_bias")
    fwd, bwd = ((ref.conv_forward, ref.conv_backward) if name == "Convolution"
                else (ref.deconv_forward, ref.deconv_backward))
    y = fwd(op, x, w, b)
    dx, dw, db = bwd(op, x, w, dy)
    assert (db is None) == (b is None)
    grads = {"data": dx, "node_weight": dw}
    if b is not None:
        grads["node_bias"] = db
    return y, grads


def _check(name, params, shape, dtype, ties, layout_pass, seed):
    rng = np.random.RandomState(seed)
    sym = build(name, params, {"data": shape})
    op = sym.entries[0].node.op
    arg_shapes, out_shapes, _ = sym.infer_shape(data=shape)
    values = {}
    for k, s in zip(sym.list_arguments(), arg_shapes):
        v = rng.normal(0, 1, s)
        if ties:
            # integers in a small range: windows with several equal elements; a zero half
            # (all-zero lp windows) and a NaN (max routes it no gradient)
            v = rng.randint(-2, 3, s).astype(float)
            v[..., :s[-1] // 2 + 1] = 0
            v.flat[-1] = np.nan
        values[k] = v.astype(dtype)
    dy = rng.normal(0, 1, out_shapes[0]).astype(dtype)
    y_ex, g_ex = _executor_run(name, params, shape, values, dy, layout_pass)
    y_ref, g_ref = _reference(name, op, values, dy)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    assert y_ref.dtype == dtype and y_ref.shape == y_ex.shape
    np.testing.assert_allclose(y_ref, y_ex, err_msg="forward", **tol)
    assert sorted(g_ref) == sorted(g_ex)
    for k, g in g_ref.items():
        assert g.dtype == dtype and g.shape == g_ex[k].shape, k
        np.testing.assert_allclose(g, g_ex[k], err_msg="gradient of %s" % k, **tol)


@pytest.mark.parametrize("name,params,shape", CASES, ids=_ids(CASES))
def test_reference_matches_executor(name, params, shape):
    for i, (dtype, layout_pass) in enumerate([(np.float32, True), (np.float32, False),
                                               (np.float64, True), (np.float64, False)]):
        _check(name, params, shape, dtype, False, layout_pass, seed=i)


TIES = [c for c in CASES if c[0] == "Pooling"]


@pytest.mark.parametrize("name,params,shape", TIES, ids=_ids(TIES))
def test_pooling_ties_route_like_the_executor(name, params, shape):
    """Integer data: max pooling windows hold several equal maxima (the gradient goes to the
    first in row-major window order), lp windows are all zero, one element is NaN."""
    for dtype, layout_pass in [(np.float32, True), (np.float64, False)]:
        _check(name, params, shape, dtype, True, layout_pass, seed=7)


def test_max_pool_gradient_goes_to_the_first_maximum():
    op = build("Pooling", {"kernel": (2, 2), "stride": (1, 1), "pool_type": "max"},
               {"data": (1, 1, 2, 3)}).entries[0].node.op
    x = np.array([[[[1., 5., 5.], [5., 0., 5.]]]])
    y = ref.pool_forward(op, x)
    dx = ref.pool_backward(op, x, y, np.array([[[[1., 10.]]]]))
    np.testing.assert_array_equal(y, [[[[5., 5.]]]])
    np.testing.assert_array_equal(dx, [[[[0., 11., 0.], [0., 0., 0.]]]])


def test_reference_is_plain_numpy():
    """The reference imports numpy and nothing of symnorm (no runtime, no kernel helpers)."""
    tree = ast.parse(inspect.getsource(ref))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "." for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names <= {"__future__", "itertools", "numpy", "numpy.lib.stride_tricks"}, names
