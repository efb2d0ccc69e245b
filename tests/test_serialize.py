"""MXNet symbol JSON: exact text, tolerant reading of old formats, clear errors."""
import glob
import json
import os

import pytest

import symnorm as sn
from symnorm import sym

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
GOLDEN = sorted(glob.glob(os.path.join(SHARED, "conformance", "golden", "public", "*.json")))
TINY = os.path.join(SHARED, "mxnet-fixtures", "tiny-symbol.json")


def _records():
    for path in GOLDEN:
        for i, rec in enumerate(json.load(open(path))["symbols"]):
            yield pytest.param(rec, id="%s-%d" % (os.path.basename(path)[:-5], i))


@pytest.mark.skipif(not GOLDEN, reason="../shared/conformance not present")
@pytest.mark.parametrize("rec", list(_records()))
def test_mxnet_written_json_roundtrips_byte_for_byte(rec):
    s = sym.load_json(rec["json"])
    assert s.tojson() == rec["json"]
    assert s.list_arguments() == rec["list_arguments"]
    assert s.list_auxiliary_states() == rec["list_auxiliary_states"]
    assert s.list_outputs() == rec["list_outputs"]


@pytest.mark.skipif(not os.path.exists(TINY), reason="../shared/mxnet-fixtures not present")
def test_mxnet_checkpoint_symbol_file(tmp_path):
    s = sym.load(TINY)
    text = open(TINY).read()
    assert s.tojson() == text
    out = tmp_path / "again-symbol.json"
    s.save(str(out))
    assert out.read_text() == text


def test_writer_layout_matches_dmlc():
    s = sym.Concat(*[sym.Variable("v%d" % i) for i in range(11)], dim=0, name="cat")
    text = s.tojson()
    assert '"attrs": {\n        "dim": "0", \n        "num_args": "11"\n      }' in text
    assert '"inputs": [\n        [0, 0, 0], \n' in text          # > 10 entries: one per line
    assert '"heads": [[11, 0, 0]]' in text
    assert text.endswith('"attrs": {"mxnet_version": ["int", 10901]}\n}')


def test_node_row_ptr_counts_hidden_outputs_and_aux_version():
    bn = sym.BatchNorm(sym.Variable("x"), name="bn")
    d = json.loads(bn.tojson())
    assert d["node_row_ptr"] == [0, 1, 2, 3, 4, 5, 8]
    assert d["nodes"][-1]["inputs"] == [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 1], [4, 0, 1]]
    assert d["arg_nodes"] == [0, 1, 2, 3, 4]


LEGACY = {
    "nodes": [
        {"op": "null", "name": "data", "inputs": [], "backward_source_id": -1},
        {"op": "null", "name": "fc_weight", "inputs": [], "attr": {"lr_mult": "2"}},
        {"op": "null", "name": "fc_bias", "inputs": []},
        {"op": "FullyConnected", "name": "fc", "param": {"num_hidden": "4", "no_bias": "False"},
         "inputs": [[0, 0], [1, 0], [2, 0]], "backward_source_id": -1},
        {"op": "null", "name": "bn_gamma", "inputs": []},
        {"op": "null", "name": "bn_beta", "inputs": []},
        {"op": "BatchNorm", "name": "bn", "param": {"eps": "0.001", "fix_gamma": "True"},
         "attr": {"ctx_group": "dev1"}, "inputs": [[3, 0], [4, 0], [5, 0]]},
    ],
    "arg_nodes": [0, 1, 2, 4, 5],
    "heads": [[6, 0]],
}


def test_legacy_json_param_attr_and_missing_aux():
    s = sym.load_json(json.dumps(LEGACY))
    assert s.list_arguments() == ["data", "fc_weight", "fc_bias", "bn_gamma", "bn_beta"]
    assert s.list_auxiliary_states() == ["bn_moving_mean", "bn_moving_var"]
    assert s.attr("__ctx_group__") == "dev1"
    assert s.get_internals()["fc_weight"].attr("lr_mult") == "2"
    args, outs, aux = s.infer_shape(data=(5, 3))
    assert outs == [(5, 4)] and aux == [(4,), (4,)]
    again = sym.load_json(s.tojson())
    assert again.tojson() == s.tojson()


def _bad(**change):
    doc = json.loads(sym.BatchNorm(sym.Variable("x"), name="bn").tojson())
    for k, v in change.items():
        if k == "node5":
            doc["nodes"][5].update(v)
        else:
            doc[k] = v
    return json.dumps(doc)


@pytest.mark.parametrize("text,err,match", [
    ("{not json", sn.GraphError, "malformed symbol JSON"),
    ("[1, 2]", sn.GraphError, "expected an object"),
    (_bad(node5={"op": "FooNorm"}), sn.GraphError, "unknown operator 'FooNorm' in node 'bn'"),
    (_bad(node5={"attrs": {"moodiness": "1"}}), sn.ParamError, "BatchNorm 'bn'.*moodiness"),
    (_bad(node5={"attrs": {"eps": "-1"}}), sn.ParamError, "BatchNorm 'bn'.*eps"),
    (_bad(node5={"inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 1], [9, 0, 1]]}),
     sn.GraphError, "dangling reference or a cycle"),
    (_bad(node5={"inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 1], [5, 0, 1]]}),
     sn.GraphError, "dangling reference or a cycle"),
    (_bad(node5={"inputs": [[0, 0, 0], [1, 0, 0]]}), sn.GraphError, "takes 5 inputs"),
    (_bad(heads=[[5, 7, 0]]), sn.GraphError, "no output 7"),
    (_bad(heads=[]), sn.GraphError, "heads"),
])
def test_load_errors(text, err, match):
    with pytest.raises(err, match=match):
        sym.load_json(text)


def test_duplicate_variable_names_rejected_at_load():
    doc = json.loads((sym.Variable("a") + sym.Variable("b")).tojson())
    doc["nodes"][1]["name"] = "a"
    with pytest.raises(sn.GraphError, match="Duplicate names"):
        sym.load_json(json.dumps(doc))


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "net-symbol.json"
    good = sym.Variable("x") + 1
    good.save(str(path))
    before = path.read_text()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        sym.FullyConnected(sym.Variable("x"), num_hidden=2).save(str(path))
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net-symbol.json"]


def test_load_missing_file():
    with pytest.raises(sn.GraphError, match="cannot read symbol file"):
        sym.load("/nonexistent/x-symbol.json")
