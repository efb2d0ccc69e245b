"""MXNet parity, item 4 part A: where, pick, take, batch_take, one_hot, argmax/argmin/
argmax_channel, topk, sort, argsort, tile, repeat, slice, slice_like, reshape_like,
broadcast_to/like, Pad, reverse, SwapAxis, stack, zeros_like/ones_like, Cast, add_n,
make_loss against real MXNet 1.9.1 (fixture made by tests/fixtures/ops_mxnet_more/gen.py):
forward values and dtypes, input gradients for fixed head gradients, and the configurations
MXNet refuses, which symnorm must refuse with its own errors naming the op."""
import gzip
import json
import os

import numpy as np
import pytest

import symnorm as sn
from symnorm.core.errors import DataError, DTypeError, ParamError, ShapeError, SymnormError
from symnorm.registry import get_op

PATH = os.path.join(os.path.dirname(__file__), "fixtures", "ops_mxnet_more", "mxnet-more.json.gz")
DATA = json.load(gzip.open(PATH, "rt"))
CASES, ERRORS = DATA["cases"], DATA["errors"]


def _id(r):
    return "%s-%s" % (r["op"], "-".join("%s=%s" % kv for kv in sorted(r["params"].items())))


def _params(r):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in r["params"].items()}


def _bind(r):
    """The op under the name the fixture used, bound like the generator bound MXNet's."""
    ins = {k: np.array(v, r["in_dtypes"][k]) for k, v in r["inputs"].items()}
    fn = getattr(sn.sym, r["op"])
    names = list(ins)
    if names[0].startswith("arg"):                  # variadic: positional inputs
        s = fn(*[sn.sym.Variable(k) for k in names], name="n", **_params(r))
    else:
        s = fn(**{k: sn.sym.Variable(k) for k in names}, name="n", **_params(r))
    req = {k: ("null" if ins[k].dtype.kind == "i" else "write") for k in s.list_arguments()}
    ex = s.simple_bind(sn.cpu(), grad_req=req, type_dict={k: v.dtype for k, v in ins.items()},
                       **{k: v.shape for k, v in ins.items()})
    for k, v in ins.items():
        ex.arg_dict[k][...] = v
    return ins, ex


def _close(got, want):
    want = np.asarray(want)
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max(initial=0))))


def _expected_grads(r, ins, ogs):
    """MXNet computes no gradient for these (fixture's grad_error): the formula's."""
    x = next(iter(ins.values()))
    if r["op"] == "batch_take":             # dy to the picked (clipped) element of each row
        idx = np.clip(ins["indices"], 0, x.shape[1] - 1)
        g = np.zeros_like(x)
        g[np.arange(len(idx)), idx] = ogs[0]
        return {"a": g}
    if r["op"] == "argmax_channel":         # an index: no gradient (zeros)
        return {"data": np.zeros_like(x)}
    if r["op"] == "sort":                   # MXNet's backward node cannot parse axis=None
        g = np.zeros_like(x)
        np.put_along_axis(g, np.argsort(x, axis=-1, kind="stable"), ogs[0], -1)
        return {"data": g}
    raise AssertionError("no reference gradient for %s" % r["op"])


@pytest.mark.parametrize("r", CASES, ids=[_id(r) for r in CASES])
def test_matches_mxnet(r):
    ins, ex = _bind(r)
    outs = [o.copy() for o in ex.forward(is_train=True)]
    assert len(outs) == len(r["outs"])
    for got, want, dt in zip(outs, r["outs"], r["out_dtypes"]):
        assert got.dtype == np.dtype(dt), (got.dtype, dt)
        _close(got, np.array(want, dt))
    ogs = [np.array(g, dt) for g, dt in zip(r["ogs"], r["out_dtypes"])]
    ex.backward(ogs)
    grads = r["grads"] if "grads" in r else _expected_grads(r, ins, ogs)
    assert grads
    for k, want in grads.items():
        _close(ex.grad_dict[k], want)


def test_fixture_covers_every_op_of_the_item():
    ops = {get_op(r["op"]).op_name for r in CASES}
    assert ops == {"where", "pick", "take", "batch_take", "one_hot", "argmax", "argmin",
                   "argmax_channel", "topk", "sort", "argsort", "tile", "repeat", "slice",
                   "slice_like", "reshape_like", "broadcast_to", "broadcast_like", "Pad",
                   "reverse", "SwapAxis", "stack", "zeros_like", "ones_like", "Cast", "add_n",
                   "make_loss"}


@pytest.mark.parametrize("r", ERRORS, ids=[_id(r) for r in ERRORS])
def test_refuses_what_mxnet_refuses(r):
    assert r["mxnet_error"], "MXNet accepted it: not a refusal case"
    with pytest.raises(SymnormError) as info:
        _, ex = _bind(r)
        ex.forward(is_train=True)
    assert isinstance(info.value, (ParamError, ShapeError, DTypeError, DataError))
    assert "%s 'n'" % get_op(r["op"]).op_name in str(info.value)


# ----------------------------------------------------------------- messages
def _var(name="x"):
    return sn.sym.Variable(name)


@pytest.mark.parametrize("build,error,words", [
    (lambda: sn.sym.take(_var(), _var("i"), mode="bogus", name="t"), ParamError,
     ["take 't'", "'mode'", "'bogus'", "'clip'"]),
    (lambda: sn.sym.pad(_var(), mode="edge", pad_width=(0, 0, 1, 1, 1), name="p"), ParamError,
     ["Pad 'p'", "pad_width has 5 entries", "8 (a 4-d input) or 10"]),
    (lambda: sn.sym.Pad(_var(), mode="edge", pad_width=(0, 1, 0, 0, 1, 1, 1, 1), name="p"), ParamError,
     ["Pad 'p'", "pad_width must be 0 for the first two axes"]),
    (lambda: sn.sym.Pad(_var(), mode="wrap", pad_width=(0,) * 8, name="p"), ParamError,
     ["Pad 'p'", "'mode'", "'wrap'", "'reflect'"]),
    (lambda: sn.sym.slice(_var(), begin=(0, 1), end=(2,), name="s"), ParamError,
     ["slice 's'", "begin and end must have the same length"]),
    (lambda: sn.sym.crop(_var(), begin=(0,), end=(2,), step=(0,), name="s"), ParamError,
     ["slice 's'", "step[0] cannot be 0"]),
    (lambda: sn.sym.Cast(_var(), dtype="bfloat16", name="c"), ParamError,
     ["Cast 'c'", "bfloat16", "not supported"]),
    (lambda: sn.sym.cast(_var(), name="c"), ParamError, ["Cast 'c'", "required parameter 'dtype'"]),
    (lambda: sn.sym.one_hot(_var(), depth=-1, name="o"), ParamError, ["one_hot 'o'", "'depth'", ">= 0"]),
    (lambda: sn.sym.topk(_var(), ret_typ="all", name="k"), ParamError, ["topk 'k'", "'ret_typ'"]),
    (lambda: sn.sym.pick(_var(), _var("i"), axis=None, name="p"), ParamError, ["pick 'p'", "axis=None"]),
    (lambda: sn.sym.repeat(_var(), repeats=0, name="r"), ParamError, ["repeat 'r'", "'repeats'"]),
    (lambda: sn.sym.tile(_var(), reps=(2, 0), name="t"), ParamError, ["tile 't'", "'reps'"]),
    (lambda: sn.sym.broadcast_like(_var(), _var("y"), lhs_axes=(0,), name="b"), ParamError,
     ["broadcast_like 'b'", "lhs_axes and rhs_axes"]),
])
def test_bad_params_name_the_op_and_argument(build, error, words):
    with pytest.raises(error) as info:
        build()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


@pytest.mark.parametrize("sym,shapes,words", [
    (lambda: sn.sym.topk(_var(), k=5, name="k"), {"x": (2, 4)}, ["topk 'k'", "k=5", "4 elements"]),
    (lambda: sn.sym.Pad(_var(), mode="constant", pad_width=(0,) * 8, name="p"), {"x": (2, 3, 4)},
     ["Pad 'p'", "4-d or 5-d", "3-d"]),
    (lambda: sn.sym.Pad(_var(), mode="constant", pad_width=(0,) * 10, name="p"), {"x": (2, 3, 4, 5)},
     ["Pad 'p'", "pad_width has 10 entries", "needs 8"]),
    (lambda: sn.sym.pad(_var(), mode="reflect", pad_width=(0, 0, 0, 0, 3, 0, 0, 0), name="p"),
     {"x": (1, 1, 3, 3)}, ["Pad 'p'", "reflect", "axis 2 has size 3"]),
    (lambda: sn.sym.take(_var(), _var("i"), axis=2, name="t"), {"x": (2, 3), "i": (4,)},
     ["take 't'", "axis 2 out of range"]),
    (lambda: sn.sym.slice(_var(), begin=(1,), end=(1,), name="s"), {"x": (2, 3)},
     ["slice 's'", "is empty"]),
    (lambda: sn.sym.swapaxes(_var(), dim1=3, name="w"), {"x": (2, 3)}, ["SwapAxis 'w'", "dim1 3"]),
    (lambda: sn.sym.stack(_var(), _var("y"), axis=3, name="st"), {"x": (2, 3), "y": (2, 3)},
     ["stack 'st'", "axis 3"]),
    (lambda: sn.sym.stack(_var(), _var("y"), name="st"), {"x": (2, 3), "y": (2, 4)}, ["stack 'st'", "input 1"]),
    (lambda: sn.sym.where(_var("c"), _var(), _var("y"), name="w"), {"c": (3,), "x": (2, 3)},
     ["where 'w'", "condition"]),
    (lambda: sn.sym.broadcast_to(_var(), shape=(2, 5), name="b"), {"x": (1, 4)}, ["broadcast_to 'b'", "axis 1"]),
    (lambda: sn.sym.reshape_like(_var(), _var("y"), lhs_begin=2, name="r"), {"x": (2, 3), "y": (6,)},
     ["reshape_like 'r'", "lhs_begin=2"]),
])
def test_bad_shapes_name_the_op_and_argument(sym, shapes, words):
    with pytest.raises(ShapeError) as info:
        sym().infer_shape(**shapes)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_bad_index_values_are_data_errors_naming_the_op():
    ex = sn.sym.take(_var("a"), _var("i"), mode="raise", name="t").simple_bind(sn.cpu(), a=(3, 2), i=(2,))
    with pytest.raises(DataError, match=r"take 't'.*indices holds 3, out of range \[0, 3\)"):
        ex.forward(a=np.ones((3, 2)), i=np.array([0, 3]))
    with pytest.raises(DataError, match=r"pick 'p'.*index.*NaN"):
        sn.sym.pick(_var("d"), _var("i"), name="p").simple_bind(sn.cpu(), d=(2, 3)).forward(
            d=np.ones((2, 3)), i=np.array([0, np.nan]))


def test_fluent_methods_reach_the_new_ops():
    """MXNet's fluent methods for these ops (x.astype -> Cast named cast0, x.flip -> reverse)."""
    x = _var()
    assert x.astype("float64").infer_type(x=np.float32)[1] == [np.float64]
    s = x.topk(k=2, ret_typ="value", axis=0)
    assert s.infer_shape(x=(3, 4))[1] == [(2, 4)] and s.list_outputs()[0].startswith("topk")
    for sym, op in [(x.astype("int32"), "Cast"), (x.flip(axis=1), "reverse"),
                    (x.swapaxes(0, 1), "SwapAxis"), (x.pad(mode="edge", pad_width=(0,) * 8), "Pad"),
                    (x.slice(begin=(0,), end=(1,)), "slice"), (x.tile(reps=(2,)), "tile"),
                    (x.take(_var("i")), "take"), (x.pick(_var("i")), "pick"), (x.one_hot(3), "one_hot"),
                    (x.argmax(axis=1), "argmax"), (x.sort(), "sort"), (x.zeros_like(), "zeros_like")]:
        assert sym.entries[0].node.op.op_name == op
    assert x.astype("int32").name.startswith("cast") and x.flip(axis=1).name.startswith("flip")


def test_hidden_outputs_as_in_mxnet_json():
    """topk(ret_typ='value') and sort have a hidden int32 index output: two outputs in
    MXNet's node_row_ptr, one listed."""
    for s in (sn.sym.topk(_var(), k=1, ret_typ="value", name="k"), sn.sym.sort(_var(), name="k")):
        assert s.list_outputs() == ["k_output0"]
        assert json.loads(s.tojson())["node_row_ptr"] == [0, 1, 3]
    both = sn.sym.topk(_var(), ret_typ="both", dtype="int64", name="k")
    assert both.list_outputs() == ["k_output0", "k_output1"]
    assert both.infer_type(x=np.float64)[1] == [np.float64, np.int64]
    assert sn.sym.topk(_var(), name="k").list_outputs() == ["k_output"]


def test_graph_builds_mxnet_json_byte_for_byte_and_runs_like_it():
    """The same Python code gives MXNet's JSON (auto names such as flip0/cast0/swapaxes0,
    attribute strings such as begin "(0, None)") and, loaded back, MXNet's outputs."""
    import sys
    sys.path.insert(0, os.path.dirname(PATH))
    from graph_case import graph
    rec = DATA["graph"]
    with sn.name.NameManager():
        built = graph(sn.sym)
    assert built.tojson() == rec["json"]
    loaded = sn.sym.load_json(rec["json"])
    ins = {k: np.array(v, np.float32) for k, v in rec["inputs"].items()}
    ex = loaded.simple_bind(sn.cpu(), grad_req="null", **{k: v.shape for k, v in ins.items()})
    outs = ex.forward(is_train=False, **ins)
    assert len(outs) == len(rec["outs"])
    for got, want, dt in zip(outs, rec["outs"], rec["out_dtypes"]):
        assert got.dtype == np.dtype(dt)
        _close(got, np.array(want, dt))


@pytest.mark.parametrize("make,shapes", [
    (lambda x, y: sn.sym.take(x, y), {"x": (3,), "y": ()}),
    (lambda x, y: sn.sym.stack(x, y), {"x": (), "y": ()}),
    (lambda x, y: sn.sym.slice_like(x, y), {"x": (), "y": ()}),
    (lambda x, y: sn.sym.broadcast_like(x, y), {"x": (), "y": ()}),
    (lambda x, y: sn.sym.where(y, x, x), {"x": (), "y": ()}),
    (lambda x, y: sn.sym.broadcast_to(x, shape=()), {"x": ()}),
    (lambda x, y: sn.sym.Cast(x, dtype="bool"), {"x": ()}),
    (lambda x, y: sn.sym.Cast(x, dtype="int8"), {"x": ()}),
    (lambda x, y: sn.sym.argmax_channel(x), {"x": ()}),
    (lambda x, y: sn.sym.repeat(x, repeats=3), {"x": ()}),
    (lambda x, y: sn.sym.reverse(x, axis=()), {"x": ()}),
])
def test_zero_d_inputs_keep_their_shapes(make, shapes):
    """0-d arrays stay 0-d through forward and backward (np.ascontiguousarray and ufuncs on
    0-d arrays would make them 1-d arrays or numpy scalars)."""
    s = make(_var("x"), _var("y"))
    _, out_shapes, _ = s.infer_shape(**shapes)
    ex = s.simple_bind(sn.cpu(), **shapes)
    for k, a in ex.arg_dict.items():
        a[...] = np.random.RandomState(0).uniform(0.5, 2, a.shape)
    outs = ex.forward(is_train=True)
    assert [(isinstance(o, np.ndarray), o.shape) for o in outs] == [(True, tuple(t)) for t in out_shapes]
    ex.backward([np.ones(o.shape, o.dtype) for o in outs])
    for k, g in ex.grad_dict.items():
        assert isinstance(g, np.ndarray) and g.shape == ex.arg_dict[k].shape
