"""Property-based fuzzing of what reads user input: ``load_json``/``sym.load``, the ``.params``
reader, ``infer_shape`` and Reshape's codes.  The property is always the same: symnorm's own
error (a ``SymnormError``) or a correct result -- never another exception, never a hang.

Each test is bounded by ``max_examples`` (a few seconds each); a per-example alarm turns a
hang into a failure (the readers answer in milliseconds, the alarm allows seconds).
"""
import json
import math
import os
import struct
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import symnorm as sn
from symnorm import sym
from symnorm.errors import SymnormError

# SYMNORM_FUZZ_EXAMPLES=5000 searches harder (minutes); the default keeps the suite fast
FUZZ = settings(max_examples=int(os.environ.get("SYMNORM_FUZZ_EXAMPLES", 150)), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


from hang_guard import no_hang  # noqa: E402


def symnorm_error_or(fn, *args, **kwargs):
    """``fn(...)``'s result, or None when it raised a SymnormError (any other exception
    propagates and fails the test)."""
    with no_hang(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except SymnormError:
            return None


# ====================================================================== load_json

def _base_graphs():
    with sn.name.NameManager():
        x = sym.Variable("data", shape=(2, 3, 8, 8), lr_mult=2.0, init=sn.init.Uniform(0.1))
        c = sym.Convolution(x, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv")
        b = sym.BatchNorm(c, fix_gamma=False, name="bn")
        p = sym.Pooling(sym.Activation(b, act_type="relu"), kernel=(2, 2), stride=(2, 2), pool_type="max")
        f = sym.FullyConnected(sym.Flatten(p), num_hidden=10, name="fc")
        g1 = sym.SoftmaxOutput(f, name="softmax")
        y = sym.Variable("y", dtype="float64")
        parts = sym.SliceChannel(y, num_outputs=2, axis=1, name="split")
        cat = sym.Concat(parts[0], parts[1], dim=0, name="cat")
        g2 = sym.sum(sym.Reshape(cat, shape=(0, -1), name="r"), axis=(1,))
        g3 = sym.Group([sym.zeros(shape=(2, 2)) + sym.arange(0, 2), sym.expand_dims(y, axis=1)])
    graphs = [json.loads(g.tojson()) for g in (g1, g2, g3)]
    legacy = json.loads(g1.tojson())          # MXNet 0.x: "param", no aux inputs
    for n in legacy["nodes"]:
        if "attrs" in n:
            n["param"] = n.pop("attrs")
        if n["op"] == "BatchNorm":
            n["inputs"] = n["inputs"][:3]
    return graphs + [legacy]


BASES = _base_graphs()

STRINGS = ["2147483647", "99999999999999999999999", "-1", "0", "1e30", "nan", "inf", "None",
           "True", "", "((((((((", "[" * 200, "(2147483647, 2147483647)", "(-1, -1)", "(0, 0)",
           "(-4, 0, -1)", "(-5, 2)", "(" + "1, " * 40 + ")", '["zero", {}]', '["zero"', "relu",
           "(2, 3, 4)", "\udcff", "\x00", "(1.5,)", "[[1]]", "{}", "65537", "1e308", "-1e308",
           "5e-324"]


def _deep(depth):
    v = []
    for _ in range(depth):
        v = [v]
    return v


weird = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3),
    st.sampled_from([2 ** 31 - 1, 2 ** 63, -2 ** 63 - 1, 10 ** 30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(STRINGS), st.text(max_size=6),
    st.lists(st.integers(-2, 5), max_size=4),
    st.dictionaries(st.sampled_from(["op", "name", "inputs", "attrs", "num_hidden", "__shape__"]),
                    st.sampled_from(STRINGS + [None]), max_size=2),
    st.integers(50, 120).map(_deep),
)


def _paths(v, prefix=()):
    yield prefix
    if isinstance(v, dict):
        for k in v:
            yield from _paths(v[k], prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, prefix + (i,))


@st.composite
def mutated_graphs(draw):
    doc = json.loads(json.dumps(draw(st.sampled_from(BASES))))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["replace", "replace", "delete", "attr"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "attr" and isinstance(parent, dict) and isinstance(parent[path[-1]], str):
            parent[path[-1]] = draw(st.sampled_from(STRINGS))
        else:
            parent[path[-1]] = draw(weird)
    text = json.dumps(doc)
    cut = draw(st.one_of(st.none(), st.integers(0, len(text))))
    return text if cut is None else text[:cut]


def _check_loaded(s):
    for names in (s.list_arguments(), s.list_outputs(), s.list_auxiliary_states()):
        assert all(isinstance(n, str) for n in names)
    again = sym.load_json(s.tojson())
    assert again.tojson() == s.tojson()
    symnorm_error_or(s.infer_shape_partial)
    symnorm_error_or(s.infer_type)


@FUZZ
@given(mutated_graphs())
def test_load_json_mutated_graphs(text):
    s = symnorm_error_or(sym.load_json, text)
    if s is not None:
        _check_loaded(s)


@FUZZ
@given(st.sampled_from(BASES), st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)),
                                        min_size=1, max_size=4))
def test_symbol_file_with_corrupted_bytes(tmp_path_factory, base, flips):
    raw = bytearray(json.dumps(base).encode())
    for pos, byte in flips:
        raw[pos % len(raw)] = byte
    path = tmp_path_factory.getbasetemp() / "fuzz-symbol.json"
    path.write_bytes(bytes(raw))
    s = symnorm_error_or(sym.load, str(path))
    if s is not None:
        _check_loaded(s)


def test_load_json_huge_counts_and_nesting_fail_fast():
    for text in ["[" * 100000, '{"nodes": ' + "[" * 50000, '{"a": ' * 30000,
                 json.dumps({"nodes": [{"op": "null", "name": "x", "inputs": []},
                                       {"op": "SliceChannel", "name": "s", "inputs": [[0, 0, 0]],
                                        "attrs": {"num_outputs": "2147483647"}}],
                             "heads": [[1, 0, 0]]})]:
        with no_hang(), pytest.raises(SymnormError):
            sym.load_json(text)


# ====================================================================== .params files

def _file(records, names=None):
    names = names or []
    out = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
    out += struct.pack("<Q", len(names))
    for n in names:
        out += struct.pack("<Q", len(n)) + n.encode()
    return out


def _tail(flag, data):
    return struct.pack("<iii", 1, 0, flag) + data


def _v1(a):
    return struct.pack("<Ii", 0xF993FAC8, a.ndim) + struct.pack("<%dq" % a.ndim, *a.shape) + _tail(0, a.astype("<f4").tobytes())


def _v3(a):
    return struct.pack("<Iii", 0xF993FACA, 0, a.ndim) + struct.pack("<%dq" % a.ndim, *a.shape) + _tail(1, a.astype("<f8").tobytes())


def _legacy(a):
    return struct.pack("<I", a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape) + _tail(4, a.astype("<i4").tobytes())


def _bf16(a):
    bits = (a.astype("<f4").view("<u4") >> 16).astype("<u2")
    return struct.pack("<Iii", 0xF993FAC9, 0, a.ndim) + struct.pack("<%dq" % a.ndim, *a.shape) + _tail(12, bits.tobytes())


def _saved(data):
    import tempfile
    fd, path = tempfile.mkstemp(suffix=".params")
    os.close(fd)
    try:
        sn.nd.save(path, data)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.remove(path)


A = np.arange(6, dtype=np.float32).reshape(2, 3)
PARAMS = [
    _saved({"arg:w": A, "arg:b": np.array([1, 2, 3], np.int32), "aux:m": np.array([0.5], np.float16)}),
    _saved([A, np.zeros((1, 1, 2), np.uint8)]),
    _file([_v3(np.array(2.5)), _v3(A), struct.pack("<Iii", 0xF993FACA, 0, -1)], ["s", "a", "none"]),
    _file([_v1(A), _legacy(np.array([[7, 8]])), _bf16(np.array([3.0, -1.5]))]),
    _file([_legacy(np.arange(4).reshape(2, 2))], ["x"]),
]
WORDS = [0, 1, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 63 - 1, 2 ** 64 - 1, 2 ** 63, 33, 63, 64, 0xF993FAC8,
         0xF993FAC9, 0xF993FACA, 0x112, 12, 13]


@st.composite
def mutated_params(draw):
    raw = bytearray(draw(st.sampled_from(PARAMS)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "word", "word", "cut", "insert"]))
        pos = draw(st.integers(0, len(raw)))
        if kind == "flip" and raw:
            raw[pos % len(raw)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "word":
            size = draw(st.sampled_from([4, 8]))
            word = draw(st.sampled_from(WORDS)) % (1 << (8 * size))
            raw[pos:pos + size] = word.to_bytes(size, "little")
        elif kind == "cut":
            del raw[pos:]
        else:
            raw[pos:pos] = bytes(draw(st.lists(st.integers(0, 255), min_size=1, max_size=9)))
    return bytes(raw)


def _v1_negative_ndim():
    raw = bytearray(PARAMS[3])
    raw[28:32] = (2 ** 32 - 1).to_bytes(4, "little")        # the V1 record's ndim: -1
    return bytes(raw)


@FUZZ
@example(blob=_v1_negative_ndim())                          # struct.error before
@example(blob=_file([struct.pack("<Iii", 0xF993FAC9, 0, 2) + struct.pack("<2q", 2 ** 33, 2 ** 31)
                     + _tail(0, b"")]))                    # 2**64 elements: np.prod wrapped to 0
@given(mutated_params())
def test_params_reader_on_mutated_files(tmp_path_factory, blob):
    path = tmp_path_factory.getbasetemp() / "fuzz.params"
    path.write_bytes(blob)
    got = symnorm_error_or(sn.nd.load, str(path))
    if got is None:
        return
    arrays = list(got.values()) if isinstance(got, dict) else got
    assert isinstance(got, (dict, list))
    if isinstance(got, dict):
        assert all(isinstance(k, str) for k in got)
    for a in arrays:
        assert a is None or (isinstance(a, np.ndarray) and a.nbytes <= len(blob) * 2)  # bf16 widens


def test_every_params_variant_reads_back(tmp_path):
    """The fuzzer's seeds are valid files of each kind the reader supports; with two of
    them renaming an array onto another's name, the file must be refused."""
    for i, blob in enumerate(PARAMS):
        (tmp_path / "ok.params").write_bytes(blob)
        assert isinstance(sn.nd.load(str(tmp_path / "ok.params")), (dict, list)), i
    (tmp_path / "dup.params").write_bytes(_file([_v1(A), _v1(A)], ["w", "w"]))
    with pytest.raises(sn.nd.ParamsFileError, match="duplicate"):
        sn.nd.load(str(tmp_path / "dup.params"))


# ====================================================================== shapes

dim = st.one_of(
    st.integers(-3, 12), st.integers(1, 6).map(np.int64),
    st.sampled_from([2 ** 31, 2 ** 62, 2 ** 63, 2 ** 64, -2 ** 63]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([2.0, "a", "3", None, True]),
)
shapes = st.one_of(
    st.lists(dim, max_size=5).map(tuple),
    st.lists(st.integers(1, 3), max_size=5).map(tuple),
    st.lists(st.integers(1, 2), min_size=31, max_size=34).map(tuple),
    st.sampled_from([5, "ab", None, 2.5, (), ((2, 3),)]),
)


def _nets():
    d = sym.Variable("data")
    return {
        "fc": sym.FullyConnected(d, num_hidden=3),
        "conv": sym.Convolution(d, kernel=(3, 3), num_filter=2, pad=(1, 1)),
        "bn": sym.BatchNorm(d),
        "pool": sym.Pooling(d, kernel=(2, 2), stride=(2, 2)),
        "flatten": sym.Flatten(d),
        "sum": sym.sum(d, axis=(1,)),
        "transpose": sym.transpose(d),
        "split": sym.SliceChannel(d, num_outputs=2),
        "concat": sym.Concat(d, d, dim=1),
        "softmax": sym.SoftmaxOutput(d),
    }


def _valid_result(res):
    if res is None:
        return
    for group in res:
        if group is None:
            continue
        for s in group:
            assert isinstance(s, tuple) and all(isinstance(v, int) and v >= 0 for v in s), s


@FUZZ
@given(st.sampled_from(sorted(_nets())), shapes)
def test_infer_shape_on_random_shapes(name, shape):
    net = _nets()[name]
    _valid_result(symnorm_error_or(net.infer_shape, data=shape))
    _valid_result(symnorm_error_or(net.infer_shape_partial, data=shape))


codes = st.lists(st.one_of(st.integers(-6, 6), st.sampled_from([2 ** 31, 2 ** 63, -2 ** 63])),
                 max_size=6).map(tuple)


@FUZZ
@given(shapes, codes, st.booleans())
def test_reshape_on_random_codes(shape, target, reverse):
    def run():
        r = sym.Reshape(sym.Variable("data"), shape=target, reverse=reverse)
        return r.infer_shape(data=shape)
    res = symnorm_error_or(run)
    _valid_result(res)
    if res is not None and res[0] is not None:
        (arg,), (out,) = res[0], res[1]
        assert math.prod(out) == math.prod(arg)
        if all(c > 0 for c in target):
            assert out == target


# ====================================================================== every op's params

ABSURD = STRINGS + ["-2147483648", "-inf", "(9223372036854775807,)", "(-3,)", "1.5", "'a'",
                    "(4294967296, 4294967296, 4294967296)"]


def test_every_param_of_every_op_takes_absurd_values_without_a_raw_error():
    """From the registry: each param of each op (in its examples' context) set to absurd
    strings, as a JSON file would give them; building the op and inferring its shapes
    raises a SymnormError or succeeds, quickly (no loop or allocation sized by a param)."""
    from symnorm.registry import REGISTRY
    tried = 0
    for name, cls in sorted(REGISTRY.items()):
        for params, shapes in list(cls.examples())[:2]:
            for f in cls.param_fields():
                for value in ABSURD:
                    def build_and_infer():
                        op = cls.create(dict(params, **{f.name: value}))
                        ins = [shapes.get(n) for n in op.input_names()]
                        op.infer_shape(*[None if s is None else tuple(s) for s in ins])
                        net = sn.symbol.create(name, tuple(sym.Variable(n) for n in op.arguments()),
                                               dict(params, **{f.name: value}))
                        return net.infer_shape_partial(**{n: shapes[n] for n in op.arguments()
                                                          if n in shapes})
                    with sn.name.NameManager():
                        tried += symnorm_error_or(build_and_infer, ) is not None
    assert tried > 500          # many absurd-but-legal values are accepted and inferred
