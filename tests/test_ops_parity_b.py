"""The ops of "MXNet parity" item 4 part B against real MXNet 1.9.1's forward outputs and
input gradients (fixture made by tests/fixtures/ops_mxnet_more_b/gen.py), and their bad
params refused with symnorm's errors naming the op and the argument.

Where MXNet is defective symnorm keeps the correct value, checked against the formula
(docs/porting.md, "Ops of the parity issue, part B")."""
import gzip
import json
import os

import numpy as np
import pytest

import symnorm as sn
from symnorm.core.errors import ParamError, ShapeError, DataError
from symnorm.registry import REGISTRY, ALIASES

PATH = os.path.join(os.path.dirname(__file__), "fixtures", "ops_mxnet_more_b", "mxnet-ops-b.json.gz")
RECORDS = json.load(gzip.open(PATH, "rt"))


def _id(r):
    return "%s-%s" % (r["op"], "-".join("%s=%s" % kv for kv in sorted(r["params"].items())))


def _run(r):
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in r["params"].items()}
    ins = {k: np.array(v, np.float32) for k, v in r["inputs"].items()}
    fn = getattr(sn.sym, r["op"])
    if REGISTRY[r["op"]].variadic:
        s = fn(*[sn.sym.Variable(k) for k in ins], name="n", **params)
    else:
        s = fn(**{k: sn.sym.Variable(k) for k in ins}, name="n", **params)
    ex = s.simple_bind(sn.cpu(), **{k: v.shape for k, v in ins.items()})
    ex.copy_params_from(ins)
    outs = [o.copy() for o in ex.forward(is_train=True)]
    ex.backward([np.array(g, np.float32) for g in r["ogs"]])
    return ins, outs, ex


def _close(got, want):
    want = np.array(want, dtype=np.float64)
    scale = max(1.0, float(np.nanmax(np.abs(want)))) if np.isfinite(want).any() else 1.0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * scale)


def _prod_others(x, axis):
    """d(prod over axis)/dx by brute force: the product of the other entries."""
    g = np.empty_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        rest = list(idx)
        total = 1.0
        for k in range(x.shape[axis]):
            rest[axis] = k
            if k != idx[axis]:
                total *= float(x[tuple(rest)])
        g[idx] = total
    return g


def _expected_grad(r, ins, k, want):
    """MXNet's gradient, or the true one where MXNet's is wrong."""
    op, p = r["op"], r["params"]
    dy = np.array(r["ogs"][0], np.float64)
    if op == "prod" and p.get("axis") == [1] and (ins["data"] == 0).any():
        # MXNet divides the output by x: nan/inf at a zero, 0 for the others of its row
        x = ins["data"].astype(np.float64)
        return _prod_others(x, 1) * dy[:, None]
    if op == "SoftmaxActivation" and p.get("mode", "instance") == "instance" and ins["data"].ndim > 2:
        # MXNet's forward is softmax over the last axis, its backward sums over axis 1
        y = np.array(r["outs"][0], np.float64)
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    return want


@pytest.mark.parametrize("r", RECORDS, ids=[_id(r) for r in RECORDS])
def test_matches_mxnet(r):
    assert "error" not in r, r.get("error")
    ins, outs, ex = _run(r)
    assert len(outs) == len(r["outs"])
    for got, want in zip(outs, r["outs"]):
        _close(got, want)
    blocked = set(REGISTRY[r["op"]].no_grad_inputs)
    for k, want in r["grads"].items():
        got = ex.grad_dict.get(k)
        if k in blocked or got is None:
            continue
        _close(got, _expected_grad(r, ins, k, want))


def test_fixture_covers_every_op_of_the_issue():
    ops = {r["op"] for r in RECORDS}
    want = set("""norm L2Normalization LRN UpSampling SoftmaxActivation smooth_l1 softsign erf
        hard_sigmoid depth_to_space space_to_depth SequenceMask SequenceLast SequenceReverse
        _contrib_AdaptiveAvgPooling2D _contrib_BilinearResize2D log10 log2 cbrt rcbrt tan arcsin
        arccos arctan sinh cosh arcsinh arccosh arctanh degrees radians rint fix trunc prod nansum
        nanprod softmin""".split())
    assert want <= ops and want <= set(REGISTRY)


V = sn.sym.Variable


@pytest.mark.parametrize("op,kwargs,arg", [
    ("norm", {"ord": 3}, "ord"),
    ("norm", {"out_dtype": "complex64"}, "out_dtype"),
    ("LRN", {}, "nsize"),
    ("LRN", {"nsize": 4}, "nsize"),
    ("LRN", {"nsize": 0}, "nsize"),
    ("L2Normalization", {"mode": "batch"}, "mode"),
    ("SoftmaxActivation", {"mode": "spatial"}, "mode"),
    ("hard_sigmoid", {"alpha": "steep"}, "alpha"),
    ("smooth_l1", {"scalar": None}, "scalar"),
    ("softmin", {"use_length": True}, "use_length"),
    ("softmin", {"temperature": 0.0}, "temperature"),
    ("softmin", {"dtype": "int32"}, "dtype"),
    ("depth_to_space", {}, "block_size"),
    ("space_to_depth", {"block_size": 0}, "block_size"),
    ("SequenceMask", {"axis": 2}, "axis"),
    ("SequenceLast", {"axis": -1}, "axis"),
    ("SequenceReverse", {"axis": 1}, "axis"),
    ("_contrib_AdaptiveAvgPooling2D", {"output_size": (1, 2, 3)}, "output_size"),
    ("_contrib_AdaptiveAvgPooling2D", {"output_size": (0,)}, "output_size"),
    ("_contrib_BilinearResize2D", {"mode": "odd_scale", "scale_height": 2.0}, "scale_width"),
    ("_contrib_BilinearResize2D", {"scale_height": -1.0}, "scale_height"),
    ("_contrib_BilinearResize2D", {"height": 0}, "height"),
    ("_contrib_BilinearResize2D", {"mode": "bicubic"}, "mode"),
    ("prod", {"keepdims": "maybe"}, "keepdims"),
])
def test_bad_params_raise_param_error_naming_op_and_argument(op, kwargs, arg):
    with pytest.raises(ParamError, match=r"(?s)%s.*%s" % (op, arg)):
        getattr(sn.sym, op)(V("data"), name="bad", **kwargs)


@pytest.mark.parametrize("kwargs,msg", [
    ({"scale": 0, "sample_type": "nearest"}, "scale"),
    ({"scale": 2}, "sample_type"),
    ({"scale": 2, "sample_type": "linear"}, "sample_type"),
    ({"scale": 2, "sample_type": "nearest", "multi_input_mode": "max"}, "multi_input_mode"),
])
def test_upsampling_bad_params(kwargs, msg):
    with pytest.raises(ParamError, match=r"(?s)UpSampling.*%s" % msg):
        sn.sym.UpSampling(V("x"), name="up", **kwargs)


@pytest.mark.parametrize("build,shapes,msg", [
    (lambda: sn.sym.UpSampling(V("x"), scale=2, sample_type="bilinear", num_filter=3),
     {"x": (1, 2, 4, 4)}, "num_filter"),
    (lambda: sn.sym.UpSampling(V("x"), V("w"), scale=2, sample_type="bilinear", num_filter=2),
     {"x": (1, 2, 4, 4), "w": (2, 1, 3, 3)}, "weight"),
    (lambda: sn.sym.UpSampling(V("a"), V("b"), scale=2, sample_type="nearest"),
     {"a": (1, 1, 3, 3), "b": (1, 1, 4, 4)}, "divide"),
    (lambda: sn.sym.UpSampling(V("a"), V("b"), scale=2, sample_type="nearest", multi_input_mode="sum"),
     {"a": (1, 1, 2, 2), "b": (1, 2, 2, 2)}, "channels"),
    (lambda: sn.sym.depth_to_space(V("x"), block_size=2), {"x": (1, 6, 2, 2)}, "block_size"),
    (lambda: sn.sym.space_to_depth(V("x"), block_size=2), {"x": (1, 1, 3, 4)}, "block_size"),
    (lambda: sn.sym.LRN(V("x"), nsize=3), {"x": (2, 3, 4)}, "4-d"),
    (lambda: sn.sym.L2Normalization(V("x"), mode="channel"), {"x": (2, 3)}, "3 dims"),
    (lambda: sn.sym.SoftmaxActivation(V("x"), mode="channel"), {"x": (2, 3)}, "3 dims"),
    (lambda: sn.sym.SequenceMask(V("x"), V("l"), use_sequence_length=True), {"x": (4, 3), "l": (4,)},
     "sequence_length"),
    (lambda: sn.sym.SequenceLast(V("x")), {"x": (4,)}, "2 dims"),
    (lambda: sn.sym.norm(V("x"), axis=(2,)), {"x": (2, 3)}, "axis"),
    (lambda: sn.sym.contrib.BilinearResize2D(V("x"), mode="to_even_down"), {"x": (1, 1, 1, 4)}, ">= 1"),
    (lambda: sn.sym.contrib.AdaptiveAvgPooling2D(V("x")), {"x": (1, 3, 4)}, "4-d"),
])
def test_bad_shapes_raise_shape_error(build, shapes, msg):
    with pytest.raises(ShapeError, match=msg):
        build().infer_shape(**shapes)


@pytest.mark.parametrize("op,lengths", [
    ("SequenceLast", [0, 2]), ("SequenceLast", [1, 5]), ("SequenceReverse", [5, 1]),
    ("SequenceMask", [-1, 2]), ("SequenceMask", [float("nan"), 2]),
])
def test_sequence_lengths_outside_the_sequence_raise(op, lengths):
    s = getattr(sn.sym, op)(V("x"), V("l"), use_sequence_length=True, name="seq")
    ex = s.simple_bind(sn.cpu(), x=(4, 2, 3), l=(2,))
    ex.arg_dict["x"][...] = 1.0
    ex.arg_dict["l"][...] = np.array(lengths)
    with pytest.raises(DataError, match=r"(?s)%s.*sequence_length" % op):
        ex.forward()


def test_names_and_defaults_are_mxnets():
    assert ALIASES.get("sum_axis") == "sum"          # (the existing convention)
    assert REGISTRY["norm"]().ord == 2 and REGISTRY["L2Normalization"]().eps == 1e-10
    lrn = REGISTRY["LRN"](nsize=3)
    assert (lrn.alpha, lrn.beta, lrn.knorm) == (1e-4, 0.75, 2.0)
    assert REGISTRY["hard_sigmoid"]().alpha == 0.2 and REGISTRY["smooth_l1"]().scalar == 1.0
    assert REGISTRY["_contrib_BilinearResize2D"]().align_corners is True
    x = V("x")
    assert sn.sym.UpSampling(x, scale=2, sample_type="bilinear", num_filter=3,
                             name="up").list_arguments() == ["x", "up_weight"]
    assert sn.sym.UpSampling(x, V("y"), scale=2, sample_type="nearest").list_arguments() == ["x", "y"]
    assert sn.sym.L2Normalization(x, name="l2").list_outputs() == ["l2_output"]
    assert sn.sym.LRN(x, nsize=3, name="lrn").list_outputs() == ["lrn_output"]
    assert sn.sym.SequenceMask(x, name="m").list_arguments() == ["x"]
    assert sn.sym.SequenceMask(x, use_sequence_length=True, name="m").list_arguments() == \
        ["x", "m_sequence_length"]
    # fluent methods MXNet has for them
    for method in ("norm", "prod", "nansum", "nanprod", "softmin", "log10", "arcsin", "rint",
                   "fix", "trunc", "degrees", "depth_to_space", "space_to_depth"):
        assert callable(getattr(x, method)), method
    assert x.depth_to_space(2, name="d").tojson() == \
        sn.sym.depth_to_space(x, block_size=2, name="d").tojson()


def test_bilinear_resize_scales_apply_to_their_own_axis():
    """MXNet 1.9.1 reads scale_width only when scale_height is given (and fails with 'bad
    optional access' for scale_height alone); symnorm scales each axis by its own param."""
    x = V("x")
    shape = lambda **kw: sn.sym.contrib.BilinearResize2D(x, height=3, width=3, **kw) \
        .infer_shape(x=(1, 1, 4, 4))[1][0]                                   # noqa: E731
    assert shape(scale_width=2.0) == (1, 1, 3, 8)
    assert shape(scale_height=2.0) == (1, 1, 8, 3)
    assert shape(scale_height=2.0, scale_width=0.5) == (1, 1, 8, 2)        # as MXNet


def _lrn_reference(x, nsize, alpha, beta, knorm):
    c = x.shape[1]
    out = np.empty_like(x)
    for k in range(c):
        lo, hi = max(0, k - nsize // 2), min(c, k + nsize // 2 + 1)
        n = knorm + alpha / nsize * (x[:, lo:hi] ** 2).sum(axis=1)
        out[:, k] = x[:, k] * n ** -beta
    return out


@pytest.mark.parametrize("nsize", [3, 7, 2 ** 31 - 1])
def test_lrn_window_wider_than_the_channels(nsize):
    """MXNet refuses nsize > C at run time (chpool); symnorm sums the channels there are,
    in time bounded by C whatever nsize is."""
    x = np.random.RandomState(0).randn(2, 4, 2, 3)
    op = REGISTRY["LRN"](nsize=nsize, alpha=0.3, beta=0.6, knorm=1.5)
    y = op.forward(x, train=False)[0][0]
    np.testing.assert_allclose(y, _lrn_reference(x, nsize, 0.3, 0.6, 1.5), rtol=1e-12)
