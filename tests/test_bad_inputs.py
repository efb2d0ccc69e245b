"""Nothing silently wrong (issue 15, items 13-18): absurd counts, malformed JSON and .params
files, bad shapes, NaN labels and complex arrays each raise symnorm's own error naming the
file, key, argument or node -- never a raw Python error, a hang, or a quietly wrong result."""
import json
import struct

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym
from symnorm.errors import SymnormError


from hang_guard import no_hang as time_limit  # noqa: E402


def _graph(**node_changes):
    """The JSON of ``fc(x)`` as a dict, with ``node_changes[i]`` merged into node i."""
    d = json.loads(sym.FullyConnected(sym.Variable("x"), num_hidden=3, name="fc").tojson())
    for i, change in node_changes.items():
        d["nodes"][int(i[1:])].update(change)
    return d


# ------------------------------------------------------------------ 13. counts

@pytest.mark.parametrize("attrs,match", [
    ({"num_outputs": "2147483647"}, "num_outputs.*at most 65536 outputs"),
    ({"num_outputs": "99999999999999999999999"}, "int64"),
])
def test_absurd_output_count_in_json_is_an_error_not_minutes_of_work(attrs, match):
    text = json.dumps({"nodes": [{"op": "null", "name": "x", "inputs": []},
                                 {"op": "SliceChannel", "name": "s", "attrs": attrs,
                                  "inputs": [[0, 0, 0]]}],
                       "arg_nodes": [0], "heads": [[1, 0, 0]]})
    with time_limit(5), pytest.raises(sn.ParamError, match="SliceChannel 's'.*" + match):
        sym.load_json(text)


def test_absurd_counts_and_sizes_fail_at_construction():
    x = sym.Variable("x")
    with pytest.raises(sn.ParamError, match="at most 65536 inputs"):
        sym.load_json(json.dumps({"nodes": [{"op": "null", "name": "x", "inputs": []},
                                            {"op": "Concat", "name": "c",
                                             "attrs": {"num_args": "4000000000"},
                                             "inputs": [[0, 0, 0]]}], "heads": [[1, 0, 0]]}))
    with pytest.raises(sn.ParamError, match="at most 32"):
        sym.Reshape(x, shape=(1,) * 33)
    with pytest.raises(sn.ParamError, match="int64"):
        sym.FullyConnected(x, num_hidden=2 ** 64)
    with time_limit(5), pytest.raises(sn.ParamError, match="int64 can count"):
        sym.arange(0, 1e30)             # its length was found by building the array
    with pytest.raises(sn.ParamError, match="int64 can count"):
        sym.arange(-1e308, 1e308)       # (stop - start) overflows to inf
    assert sym.arange(0, 1e6).infer_shape()[1] == [(1000000,)]
    with pytest.raises(sn.ShapeError, match="int64"):
        sym.zeros(shape=(2 ** 40, 2 ** 40)).infer_shape()


def test_many_outputs_cost_linear_time_not_quadratic():
    """Split into 10000 and join again: every entry asked its node for all output names
    (load, lint, shape checks), 10000 x 10000 names; now each node computes them once."""
    n = 10000
    nodes = [{"op": "null", "name": "x", "inputs": []},
             {"op": "SliceChannel", "name": "s", "attrs": {"num_outputs": str(n)}, "inputs": [[0, 0, 0]]},
             {"op": "Concat", "name": "c", "attrs": {"num_args": str(n)},
              "inputs": [[1, i, 0] for i in range(n)]}]
    text = json.dumps({"nodes": nodes, "heads": [[2, 0, 0]]})
    with time_limit(20):         # a hang guard: it takes well under a second
        net = sym.load_json(text)
        assert net.infer_shape(x=(2, n))[1] == [(2, n)]
        assert str(net).count("%s[") == n
        ex = net.simple_bind(sn.cpu(), x=(2, n))          # the grad path asked per output too
        x = np.arange(2.0 * n).reshape(2, n)
        np.testing.assert_array_equal(ex.forward(is_train=True, x=x)[0], x)


# ------------------------------------------------------------------ 14. load_json

@pytest.mark.parametrize("change,match", [
    ({"n0": {"op": {}}}, "node 0: 'op' must be a string"),
    ({"n0": {"name": {}}}, "node 0: 'name' must be a string"),
    ({"n0": {"name": None}}, "node 0: 'name' must be a string"),
    ({"n3": {"inputs": None}}, "node 3 \\('fc'\\): 'inputs' must be a list"),
    ({"n0": {"attrs": {"__init__": {"a": 1}}}}, "node 0 \\('x'\\): attribute '__init__' must be a string"),
    ({"n0": {"attrs": {"__init__": "[\"zero\""}}}, "node 0 \\('x'\\): attribute '__init__'"),
    ({"heads": 5}, "'heads' must be a list"),
    ({"n0": {"attrs": {"__shape__": "(2,"}}}, "node 0 \\('x'\\): attribute '__shape__'"),
    ({"n0": {"attrs": {"__shape__": "(-2, 4)"}}}, "node 0 \\('x'\\): attribute '__shape__'"),
    ({"n0": {"attrs": {"__dtype__": "99"}}}, "node 0 \\('x'\\): attribute '__dtype__'"),
    ({"n0": {"attrs": {"__dtype__": "(1.5,)"}}}, "node 0 \\('x'\\): attribute '__dtype__'"),
    ({"n0": {"attrs": {"__lr_mult__": "fast"}}}, "node 0 \\('x'\\): attribute '__lr_mult__'"),
])
def test_load_json_wrong_types_name_node_and_key(change, match):
    d = _graph(**{k: v for k, v in change.items() if k.startswith("n")})
    d.update({k: v for k, v in change.items() if not k.startswith("n")})
    with pytest.raises(sn.GraphError, match=match):
        sym.load_json(json.dumps(d))


def test_load_json_deep_nesting_is_a_graph_error():
    with pytest.raises(sn.GraphError, match="nested too deeply"):
        sym.load_json("[" * 100000)
    with pytest.raises(sn.ParamError, match="cannot parse"):
        sym.load_json(json.dumps(_graph(n3={"attrs": {"num_hidden": "(" * 100000}})))


# ------------------------------------------------------------------ 15. .params files

def _params(records, names=()):
    out = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
    out += struct.pack("<Q", len(names))
    for n in names:
        out += struct.pack("<Q", len(n)) + n
    return out


def _v2(shape, data=b""):
    return (struct.pack("<Iii", 0xF993FAC9, 0, len(shape)) + struct.pack("<%dq" % len(shape), *shape)
            + struct.pack("<iii", 1, 0, 0) + data)


@pytest.mark.parametrize("blob,match", [
    # 2**32 * 2**32 wrapped to 0 elements in int64: an empty (2**32, 2**32) array was returned
    (_params([_v2((2 ** 32, 2 ** 32))]), "more elements than an int64 can count"),
    (_params([struct.pack("<Ii", 0xF993FAC8, -1) + b"\0" * 16]), "negative ndim -1"),
    (_params([_v2((2,), b"\0" * 8), _v2((2,), b"\0" * 8)], [b"w", b"w"]), "duplicate array name.*'w'"),
    (_params([_v2((2,), b"\0" * 8)], [b"\xff\xfew"]), "not UTF-8"),
    (_params([_v2((-3,))]), "dim 0 is -3"),
    (_params([struct.pack("<Iii", 0xF993FAC9, 0, 40) + b"\0" * 400]), "40 dims"),
])
def test_corrupt_params_files_raise_params_file_error(tmp_path, blob, match):
    path = tmp_path / "bad.params"
    path.write_bytes(blob)
    with pytest.raises(sn.nd.ParamsFileError, match=match):
        sn.nd.load(str(path))


def test_symbol_file_that_is_not_utf8_is_a_graph_error(tmp_path):
    good = sym.Variable("x").tojson().encode()
    (tmp_path / "m-symbol.json").write_bytes(good.replace(b'"x"', b'"\xff"'))
    with pytest.raises(sn.GraphError, match="m-symbol.json: not UTF-8 text .*0xFF"):
        sym.load(str(tmp_path / "m-symbol.json"))


# ------------------------------------------------------------------ 16. shapes

@pytest.mark.parametrize("dims,match", [
    ((float("nan"), 4), "dim 0 must be an int, got nan"),
    ((float("inf"), 4), "dim 0 must be an int, got inf"),
    (("a", 4), "dim 0 must be an int, got 'a'"),
    ((2.5, 4), "dim 0 must be an int"),
    ((-2, -4), "dim 0 is -2"),
    ((2 ** 64, 4), "dim 0 is"),
    ((1,) * 33, "33 dims"),
])
def test_bad_user_shapes_raise_shape_error_naming_the_argument(dims, match):
    fc = sym.FullyConnected(sym.Variable("data"), num_hidden=3)
    with pytest.raises(sn.ShapeError, match="shape of 'data'.*" + match):
        fc.infer_shape(data=dims)
    with pytest.raises(sn.ShapeError):
        fc.simple_bind(sn.cpu(), data=dims)


def test_variable_shape_is_checked_too():
    with pytest.raises(sn.ShapeError, match="Variable 'v': shape: dim 0 must be an int"):
        sym.Variable("v", shape=(float("nan"), 2))


@pytest.mark.parametrize("codes", [(-4, 0, -1), (-4, -1, 0), (-4, 2, -3)])
def test_reshape_split_codes_must_be_sizes(codes):
    r = sym.Reshape(sym.Variable("x"), shape=codes)
    with pytest.raises(sn.ShapeError, match="-4 splits a dim into two sizes"):
        r.infer_shape(x=(6, 3))


def test_reshape_codes_below_minus_four_fail_at_construction():
    with pytest.raises(sn.ParamError, match="code -5"):
        sym.Reshape(sym.Variable("x"), shape=(-5, 2))


# ------------------------------------------------------------------ 17. NaN labels

def _softmax_exec():
    net = sym.SoftmaxOutput(sym.Variable("data"), name="softmax")
    return net.simple_bind(sn.cpu(), data=(2, 3), softmax_label=(2,))


def test_nan_label_is_reported_as_nan_by_softmax_output():
    ex = _softmax_exec()
    ex.forward(is_train=True, data=np.zeros((2, 3)), softmax_label=np.array([0, np.nan]))
    with pytest.raises(SymnormError, match="label NaN at index \\(1,\\)"):
        ex.backward()


@pytest.mark.parametrize("metric", ["acc", "top_k_accuracy", "ce", "perplexity", "f1"])
def test_nan_label_is_reported_as_nan_by_metrics(metric):
    m = sn.metric.create(metric) if metric != "top_k_accuracy" else sn.metric.TopKAccuracy(top_k=2)
    pred = np.array([[0.3, 0.7], [0.6, 0.4]])
    with pytest.raises(SymnormError, match="label NaN at index \\(1,\\)"):
        m.update([np.array([1.0, np.nan])], [pred])


@pytest.mark.parametrize("metric", ["ce", "perplexity"])
def test_out_of_range_label_is_refused_where_it_indexes_classes(metric):
    m = sn.metric.create(metric)
    pred = np.array([[0.3, 0.7], [0.6, 0.4]])
    with pytest.raises(SymnormError, match="label -1 is outside \\[0, 2\\)"):
        m.update([np.array([1.0, -1.0])], [pred])    # picked the last class before


def test_nan_index_in_embedding_and_softmax_cross_entropy():
    emb = sym.Embedding(sym.Variable("i"), input_dim=3, output_dim=2, name="emb")
    ex = emb.simple_bind(sn.cpu(), i=(2,))
    with pytest.raises(SymnormError, match="Embedding index NaN"):
        ex.forward(i=np.array([0, np.nan]))
    ce = sym.softmax_cross_entropy(sym.Variable("d"), sym.Variable("l"), name="ce")
    ex = ce.simple_bind(sn.cpu(), d=(2, 3), l=(2,))
    with pytest.raises(SymnormError, match="label NaN"):
        ex.forward(d=np.zeros((2, 3)), l=np.array([np.nan, 0]))


# ------------------------------------------------------------------ 18. complex arrays

BAD_ARRAYS = [np.ones((2, 3), np.complex64) * 1j, np.full((2, 3), "a"), np.empty((2, 3), object)]


@pytest.mark.parametrize("bad", BAD_ARRAYS, ids=["complex", "str", "object"])
def test_executor_refuses_non_real_arrays_naming_the_input(bad):
    fc = sym.FullyConnected(sym.Variable("data"), num_hidden=2, name="fc")
    ex = fc.simple_bind(sn.cpu(), data=(2, 3))
    with pytest.raises(sn.DTypeError, match="forward: argument 'data'.*%s" % bad.dtype):
        ex.forward(data=bad)
    with pytest.raises(sn.DTypeError, match="copy_params_from: arguments 'data'"):
        ex.copy_params_from({"data": bad})
    ex.forward(is_train=True, data=np.ones((2, 3)))
    with pytest.raises(sn.DTypeError, match="backward: head gradient for output 'fc_output'"):
        ex.backward(out_grads=[bad[:, :2]])
    args = {k: np.zeros(v.shape, np.float32) for k, v in ex.arg_dict.items()}
    args["data"] = bad
    with pytest.raises(sn.DTypeError, match="bind: args\\['data'\\]"):
        fc.bind(sn.cpu(), args=args)


def test_complex_dtypes_are_refused():
    fc = sym.FullyConnected(sym.Variable("data"), num_hidden=2)
    with pytest.raises(sn.DTypeError, match="complex64 is not supported"):
        fc.simple_bind(sn.cpu(), data=(2, 3), type_dict={"data": np.complex64})


def test_module_refuses_complex_data_and_params():
    net = sym.SoftmaxOutput(sym.FullyConnected(sym.Variable("data"), num_hidden=2, name="fc"),
                            name="softmax")
    mod = sn.mod.Module(net)
    mod.bind(data_shapes=[("data", (2, 3))], label_shapes=[("softmax_label", (2,))])
    mod.init_params()
    batch = sn.io.DataBatch(data=[np.ones((2, 3)) * (1 + 1j)], label=[np.zeros(2)])
    with pytest.raises(sn.DTypeError, match="'data'.*complex128"):
        mod.forward(batch)
    arg, aux = mod.get_params()
    arg["fc_weight"] = arg["fc_weight"] * 1j
    with pytest.raises(sn.DTypeError, match="'fc_weight'.*complex"):
        mod.set_params(arg, aux)


def test_embedding_index_out_of_range_is_a_data_error_not_a_silent_clip():
    """MXNet clips index 5 of a 3-row table to row 2 (checked); symnorm refuses it, naming
    the index, in the executor and in mx.nd."""
    import symnorm as sn
    w = sn.nd.array([[1, 2], [3, 4], [5, 6]])
    with pytest.raises(sn.errors.DataError, match=r"index 5 is out of range \[0, 3\).*row 2"):
        sn.nd.Embedding(sn.nd.array([0, 5]), w, input_dim=3, output_dim=2)
    net = sn.sym.Embedding(sn.sym.Variable("data"), input_dim=3, output_dim=2, name="emb")
    ex = net.simple_bind(sn.cpu(), data=(2,))
    with pytest.raises(sn.errors.DataError, match="index -1"):
        ex.forward(data=np.array([-1, 0], np.float32))
