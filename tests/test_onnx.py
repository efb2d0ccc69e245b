"""The ONNX bridge (symnorm.onnx): exports checked by onnx.checker and run in onnxruntime
against symnorm's own forward and MXNet's reference outputs; imports back into symnorm."""
import functools
import gzip
import os
import subprocess
import sys

import numpy as np
import pytest

import symnorm as sn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import symnorm.onnx  # noqa: E402

import harness  # noqa: E402
from symnorm.test_utils import graph_types  # noqa: E402
from modelzoo_common import MODELS, input_for, params_for  # noqa: E402
from symnorm.registry import REGISTRY  # noqa: E402

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "modelzoo")


def session(path):
    opts = ort.SessionOptions()
    opts.log_severity_level = 2          # warnings (to stderr) but not info
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(path, feed):
    sess = session(path)
    return sess.run(None, {i.name: feed[i.name] for i in sess.get_inputs()})


def forward(sym, args, aux):
    args = dict(args)
    shapes, _, _ = sym.infer_shape_partial(**{k: v.shape for k, v in args.items()})
    for k, shape in zip(sym.list_arguments(), shapes):
        args.setdefault(k, np.zeros(shape, np.float32))          # loss labels: unused in inference
    ex = sym.bind(sn.cpu(), args=dict(args), aux_states=dict(aux), grad_req="null")
    return [o.copy() for o in ex.forward(is_train=False)]


def typed_data(sym, data):
    """The data inputs in the dtypes the graph forces (batch_take's int32 indices)."""
    forced = graph_types(sym, np.float32)
    return {k: v.astype(forced.get(k, v.dtype)) for k, v in data.items()}


def check_export(sym, data, params, aux, tmp_path, opset=None, rtol=1e-4, name="net"):
    """Export, check the file, run it in onnxruntime; outputs equal symnorm's."""
    path = tmp_path / (name + ".onnx")
    data = typed_data(sym, data)
    assert sn.onnx.export_model(sym, {**params, **aux}, {k: v.shape for k, v in data.items()},
                                in_types=[v.dtype for v in data.values()],
                                onnx_file_path=str(path), opset_version=opset) == str(path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    inits = {i.name for i in model.graph.initializer}
    assert not inits & {i.name for i in model.graph.input}      # weights are not graph inputs
    assert {i.name for i in model.graph.input} <= set(data)
    ref = forward(sym, {**data, **params}, aux)
    outs = run_onnx(path, data)
    assert len(outs) == len(ref)
    for o, r in zip(outs, ref):
        assert o.shape == r.shape
        np.testing.assert_allclose(o, r, rtol=rtol, atol=1e-5 * max(1.0, float(np.abs(r).max())))
    return path


# ---------------------------------------------------------------------------- import symnorm
def test_importing_symnorm_does_not_import_onnx():
    code = ("import sys, symnorm as sn; sn.onnx.export_model, sn.onnx.import_model; "
            "import symnorm.onnx, symnorm.interop.onnx.export, symnorm.__main__; "
            "assert 'onnx' not in sys.modules, 'onnx imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# ---------------------------------------------------------------------------- model zoo
def zoo(name):
    with gzip.open(os.path.join(HERE, name + "-symbol.json.gz"), "rt") as f:
        sym = sn.sym.load_json(f.read())
    x = input_for(name)
    a, _, x_ = sym.infer_shape(data=x.shape)
    arg, aux = params_for(sym.list_arguments(), a, sym.list_auxiliary_states(), x_)
    return sym, x, arg, aux


@pytest.mark.parametrize("name", list(MODELS))
def test_model_zoo_exports_run_in_onnxruntime_and_match_mxnet(name, tmp_path, capfd):
    """All nine fixtures, ResNet-18 v2 included (MXNet's own export is 2% off there),
    with a symbolic batch axis: batch 1 as exported and batch 2 both match MXNet."""
    sym, x, arg, aux = zoo(name)
    path = str(tmp_path / "m.onnx")
    sn.onnx.export_model(sym, {**arg, **aux}, [x.shape], np.float32, path, dynamic=True)
    sess = session(path)
    assert [(i.name, i.shape[0]) for i in sess.get_inputs()] == [("data", "batch")]
    if os.path.getsize(path) < 1e8:          # parsing VGG's 530 MB twice costs seconds
        model = onnx.load(path)
        assert [i.name for i in model.graph.input] == ["data"]     # weights are initializers
    ref = np.load(os.path.join(HERE, name + "-output.npy"))
    x2 = np.concatenate([x, x[:, :, ::-1]])
    out = sess.run(None, {"data": x2})[0]
    assert out.shape == (2,) + ref.shape[1:]
    assert np.abs(out[:1] - ref).max() <= 1e-4 * np.abs(ref).max()
    # the second sample is a mirror image: its own answer, not a copy of the first
    assert np.abs(out[1] - ref[0]).max() > 1e-3 * np.abs(ref).max()
    assert "initializer" not in capfd.readouterr().err.lower()    # onnxruntime warns of none


# ---------------------------------------------------------------------------- every op
def op_case(name, params, shapes, rng):
    """The op on Variables; inputs named in ``shapes`` are data, the rest weights/aux."""
    sym = harness.build(name, params, shapes)
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    vals = harness.random_inputs(sym, REGISTRY[name], arg_shapes, rng, np.float32)
    aux = {k: rng.uniform(0.5, 1.5, s).astype(np.float32)
           for k, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    data = {k: v for k, v in vals.items() if k in shapes}
    weights = {k: v for k, v in vals.items() if k not in shapes}
    return sym, data, weights, aux


# beyond the registry's examples: the inference semantics and geometry the issue names
EXTRA = [
    ("BatchNorm", {"fix_gamma": True}, {"data": (2, 3, 4, 4)}),
    ("BatchNorm", {"fix_gamma": False, "use_global_stats": True}, {"data": (2, 3, 4, 4)}),
    ("BatchNorm", {"fix_gamma": False, "axis": -1}, {"data": (2, 3, 4, 5)}),
    ("BatchNorm", {"fix_gamma": False, "axis": 2, "eps": 1e-5}, {"data": (2, 3, 4)}),
    ("BatchNorm", {"fix_gamma": False}, {"data": (4, 6)}),
    ("_contrib_SyncBatchNorm", {"fix_gamma": False, "ndev": 1, "key": "k"}, {"data": (2, 3, 4, 4)}),
    ("LayerNorm", {"axis": -1}, {"data": (2, 3, 4)}),
    ("LayerNorm", {"axis": 1}, {"data": (2, 3, 4, 5)}),
    ("LayerNorm", {"axis": 0}, {"data": (3, 4)}),
    ("InstanceNorm", {}, {"data": (2, 3, 5)}),
    ("InstanceNorm", {"eps": 1e-5}, {"data": (2, 3, 2, 3, 4)}),
    ("GroupNorm", {"num_groups": 2}, {"data": (2, 4, 3, 3)}),
    ("GroupNorm", {"num_groups": 1}, {"data": (2, 3, 5)}),
    ("Dropout", {"p": 0.5}, {"data": (3, 4)}),
    ("SoftmaxOutput", {}, {"data": (3, 4, 2, 2)}),
    ("SoftmaxOutput", {"multi_output": True}, {"data": (3, 4, 2, 2)}),
    ("SoftmaxOutput", {"preserve_shape": True}, {"data": (3, 4, 5)}),
    ("LogisticRegressionOutput", {}, {"data": (3, 4)}),
    ("MAERegressionOutput", {}, {"data": (3, 4)}),
    ("MakeLoss", {"grad_scale": 2.0}, {"data": (3, 4)}),
    ("Convolution", {"kernel": (3, 3), "num_filter": 6, "num_group": 3, "dilate": (2, 1),
                     "pad": (2, 1), "stride": (1, 2)}, {"data": (2, 3, 9, 8)}),
    ("Convolution", {"kernel": (3,), "num_filter": 4, "no_bias": True}, {"data": (2, 3, 7)}),
    ("Deconvolution", {"kernel": (3, 3), "num_filter": 4, "stride": (2, 2), "pad": (1, 1), "adj": (1, 1),
                       "num_group": 2}, {"data": (2, 2, 4, 5)}),
    ("Deconvolution", {"kernel": (4, 4), "num_filter": 3, "stride": (2, 2), "target_shape": (9, 8)},
     {"data": (1, 2, 4, 4)}),
    ("Pooling", {"kernel": (3, 3), "stride": (2, 2), "pool_type": "max", "pooling_convention": "full"},
     {"data": (2, 3, 8, 7)}),
    ("Pooling", {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1), "pool_type": "avg",
                 "pooling_convention": "full"}, {"data": (2, 3, 8, 7)}),
    ("Pooling", {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1), "pool_type": "avg",
                 "pooling_convention": "full", "count_include_pad": False}, {"data": (2, 3, 8, 7)}),
    ("Pooling", {"kernel": (2, 2), "stride": (2, 2), "pool_type": "max", "pooling_convention": "same"},
     {"data": (1, 2, 5, 7)}),
    ("Pooling", {"global_pool": True, "pool_type": "max", "kernel": (1, 1)}, {"data": (2, 3, 4, 5)}),
    ("FullyConnected", {"num_hidden": 5, "flatten": False}, {"data": (2, 3, 4)}),
    ("FullyConnected", {"num_hidden": 5}, {"data": (2, 3, 2, 2)}),
    ("Reshape", {"shape": (0, -3, -2)}, {"data": (2, 3, 4, 5)}),
    ("Reshape", {"shape": (-4, 2, -1, -2)}, {"data": (6, 5)}),
    ("Reshape", {"shape": (-1, 0), "reverse": True}, {"data": (2, 3, 4)}),
    ("dot", {"transpose_b": True}, {"lhs": (2, 3, 4), "rhs": (5, 4)}),
    ("sum", {"axis": (0, 2), "exclude": True, "keepdims": True}, {"data": (2, 3, 4, 5)}),
    ("SliceChannel", {"num_outputs": 3, "axis": 2, "squeeze_axis": True}, {"data": (2, 4, 3)}),
    ("slice_axis", {"axis": -1, "begin": 1, "end": None}, {"data": (2, 4, 3)}),
]


# ops no ONNX file can hold, each with its reason
NOT_EXPORTABLE = {"Custom": "runs the user's Python code (MXNet's exporter has no converter either)"}


def all_cases():
    """Every registry example of an op export_model translates, and the cases above."""
    from symnorm.interop.onnx.export import NOT_EXPORTED
    return [(n, p, s) for n, _, p, s in harness.cases() if n not in NOT_EXPORTED and n not in NOT_EXPORTABLE] + EXTRA


def test_every_op_is_exported_or_refused_by_name(tmp_path):
    """Each registered op has a converter or is listed as not exported; exporting a listed
    one fails with OnnxExportError naming the op and node, before anything is written."""
    from symnorm.interop.onnx.export import NOT_EXPORTED
    exportable = set(sn.onnx.exportable_ops())
    assert exportable | NOT_EXPORTED | set(NOT_EXPORTABLE) == set(REGISTRY) and not exportable & NOT_EXPORTED
    rng = np.random.RandomState(0)
    out = str(tmp_path / "no.onnx")
    for name in sorted(NOT_EXPORTED):
        params, shapes = next(iter(REGISTRY[name].examples()))
        sym, data, weights, aux = op_case(name, params, shapes, rng)
        forced = graph_types(sym, np.float32)                 # batch_take's int32 indices
        with pytest.raises(sn.onnx.OnnxExportError, match="%s 'node'.*no ONNX converter yet" % name):
            sn.onnx.export_model(sym, {**weights, **aux}, {k: v.shape for k, v in data.items()},
                                 in_types=[forced.get(k, np.float32) for k in data],
                                 onnx_file_path=out)
        assert not os.path.exists(out)


@pytest.mark.parametrize("opset", [17, 21])
def test_every_registered_op_exports_and_matches_symnorm(opset, tmp_path):
    """Each registry example (so an op added later is covered when it declares examples)
    and the cases above, as a one-op graph: onnxruntime equals symnorm's inference
    forward, all visible outputs included.  At opset 21 GroupNorm is native."""
    from symnorm.interop.onnx.export import NOT_EXPORTED
    assert set(sn.onnx.exportable_ops()) == set(REGISTRY) - NOT_EXPORTED - set(NOT_EXPORTABLE)
    rng = np.random.RandomState(0)
    failures = []
    for i, (name, params, shapes) in enumerate(all_cases()):
        try:
            sym, data, weights, aux = op_case(name, params, shapes, rng)
            check_export(sym, data, weights, aux, tmp_path, opset=opset, name="op%d" % i)
        except Exception as exc:           # collected: one report naming every failing op
            failures.append("%s %s %s: %s" % (name, params, shapes, str(exc)[:300]))
    assert not failures, "\n".join(failures)
    if opset == 21:
        sym, data, w, aux = op_case("GroupNorm", {"num_groups": 2}, {"data": (2, 4, 3)}, rng)
        path = check_export(sym, data, w, aux, tmp_path, opset=21)
        assert "GroupNormalization" in {n.op_type for n in onnx.load(str(path)).graph.node}


def test_dropout_always_stays_random_in_onnx(tmp_path):
    """mode='always' drops in inference as well: ONNX Dropout in training mode."""
    sym = sn.sym.Dropout(sn.sym.Variable("data"), p=0.25, mode="always", name="drop")
    x = np.ones((200, 50), np.float32)
    path = str(tmp_path / "d.onnx")
    sn.onnx.export_model(sym, {}, [x.shape], onnx_file_path=path)
    y = run_onnx(path, {"data": x})[0]
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.2 < (y == 0).mean() < 0.3


def lenet_bn():
    import runpy
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return runpy.run_path(os.path.join(root, "examples", "lenet_bn.py"), run_name="example")["lenet_bn"]()


@functools.lru_cache(maxsize=1)
def trained_lenet_bn():
    """LeNet-BN after two epochs of Module.fit on random 28x28 digits-like data (trained
    once per session; the tests only read it)."""
    rng = np.random.RandomState(0)
    x = rng.rand(64, 1, 28, 28).astype(np.float32)
    y = (x[:, 0, :14].mean(axis=(1, 2)) > 0.5).astype(np.float32) + 2 * (x[:, 0, :, :14].mean(axis=(1, 2)) > 0.5)
    mod = sn.Module(lenet_bn())
    mod.fit(sn.io.NDArrayIter(x, y, batch_size=16), num_epoch=2, initializer=sn.init.Xavier(),
            optimizer_params={"learning_rate": 0.1}, progress=False)
    arg, aux = mod.get_params()
    return mod.symbol, x, arg, aux


def test_lenet_bn_trained_by_module_fit_exports(tmp_path, capfd):
    sym, x, arg, aux = trained_lenet_bn()
    assert not all(np.allclose(v, 0) for v in aux.values())     # the statistics moved
    check_export(sym, {"data": x[:8]}, arg, aux, tmp_path)
    assert "initializer" not in capfd.readouterr().err.lower()  # no onnxruntime warning


def test_dynamic_batch_through_reshape_and_given_dynamic_shapes(tmp_path):
    """A Reshape that folds the batch into axis 0 and one that keeps it both follow the
    batch size; dynamic_input_shapes marks the axes given as None."""
    x = sn.sym.Variable("data")
    net = sn.sym.Reshape(x, shape=(-1, 4))                      # (N*3, 4)
    net = sn.sym.FullyConnected(net, num_hidden=2, name="fc")   # (N*3, 2)
    net = sn.sym.Reshape(net, shape=(-1, 6))                    # (N, 6)
    w = {"fc_weight": np.arange(8, dtype=np.float32).reshape(2, 4) / 8, "fc_bias": np.ones(2, np.float32)}
    path = str(tmp_path / "d.onnx")
    sn.onnx.export_model(net, w, [(2, 3, 4)], onnx_file_path=path, dynamic_input_shapes=[(None, 3, 4)])
    xs = np.random.RandomState(0).rand(5, 3, 4).astype(np.float32)
    np.testing.assert_allclose(run_onnx(path, {"data": xs})[0], forward(net, {"data": xs, **w}, {})[0],
                               rtol=1e-5)


# ---------------------------------------------------------------------------- errors
def test_op_without_converter_names_node_and_op(tmp_path, monkeypatch):
    from symnorm.interop.onnx import export
    net = sn.sym.Activation(sn.sym.Variable("data"), act_type="relu", name="act7")
    monkeypatch.delitem(export.CONVERTERS, "Activation")
    with pytest.raises(sn.onnx.OnnxExportError, match=r"Activation 'act7'.*no ONNX converter"):
        sn.onnx.export_model(net, {}, [(2, 3)], onnx_file_path=str(tmp_path / "x.onnx"))
    assert not os.listdir(tmp_path)                   # nothing half-written


def test_export_argument_errors(tmp_path):
    net = sn.sym.FullyConnected(sn.sym.Variable("data"), num_hidden=3, name="fc")
    w = {"fc_weight": np.ones((3, 4), np.float32), "fc_bias": np.zeros(3, np.float32)}
    out = str(tmp_path / "x.onnx")
    with pytest.raises(sn.onnx.OnnxExportError, match="opset_version 9 .*17"):
        sn.onnx.export_model(net, w, [(2, 4)], onnx_file_path=out, opset_version=9)
    with pytest.raises(sn.onnx.OnnxExportError, match=r"2 in_shapes .* 1 data inputs \['data'\]"):
        sn.onnx.export_model(net, w, [(2, 4), (2, 4)], onnx_file_path=out)
    with pytest.raises(sn.onnx.OnnxExportError, match="in_shapes is required"):
        sn.onnx.export_model(net, w, onnx_file_path=out)
    with pytest.raises(sn.onnx.OnnxExportError, match="fc_bias"):   # a weight left out
        sn.onnx.export_model(net, {"fc_weight": w["fc_weight"]}, [(2, 4)], onnx_file_path=out)
    with pytest.raises(sn.onnx.OnnxExportError, match=r"params\['fc_bias'\] must be a numeric array"):
        sn.onnx.export_model(net, dict(w, fc_bias="zeros"), [(2, 4)], onnx_file_path=out)
    with pytest.raises(sn.onnx.OnnxExportError, match="fc_weight"):     # wrong weight shape
        sn.onnx.export_model(net, dict(w, fc_weight=np.ones((3, 5), np.float32)), [(2, 4)],
                             onnx_file_path=out)
    assert not os.path.exists(out)
    # MXNet's arg:/aux: prefixed dict (a .params file) and the (arg, aux) pair both work
    sn.onnx.export_model(net, {"arg:" + k: v for k, v in w.items()}, [(2, 4)], onnx_file_path=out)
    assert sn.onnx.export_model(net, (w, {}), [(2, 4)], onnx_file_path=out) == out
    # and MXNet's file arguments: a -symbol.json path and a .params path ("arg:" keys)
    sn.model.save_checkpoint(str(tmp_path / "ck"), 1, net, w, {})
    sn.onnx.export_model(str(tmp_path / "ck-symbol.json"), str(tmp_path / "ck-0001.params"), [(2, 4)],
                         onnx_file_path=out)
    np.testing.assert_allclose(run_onnx(out, {"data": np.ones((2, 4), np.float32)})[0], 4.0)


# ---------------------------------------------------------------------------- import
def one_way(sym):
    """Exports whose ONNX form has no symnorm reading (docs/onnx.md, limits): the
    converters declare them (``export.ONE_WAY``)."""
    from symnorm.interop.onnx.export import is_one_way
    return is_one_way(sym.entries[0].node.op)


def test_round_trip_of_every_op_case(tmp_path):
    """symnorm -> ONNX (opset 21) -> symnorm gives the same outputs for every op case."""
    rng = np.random.RandomState(1)
    failures = []
    for i, (name, params, shapes) in enumerate(all_cases()):
        try:
            sym, data, w, aux = op_case(name, params, shapes, rng)
            if one_way(sym):
                continue
            path = str(tmp_path / ("rt%d.onnx" % i))
            data = typed_data(sym, data)
            sn.onnx.export_model(sym, {**w, **aux}, {k: v.shape for k, v in data.items()},
                                 in_types=[v.dtype for v in data.values()],
                                 onnx_file_path=path, opset_version=21)
            sym2, arg2, aux2 = sn.onnx.import_model(path)
            ref = forward(sym, {**data, **w}, aux)
            out = forward(sym2, {**{k: v for k, v in data.items() if k in sym2.list_arguments()}, **arg2}, aux2)
            assert len(out) == len(ref)
            for o, r in zip(out, ref):
                np.testing.assert_allclose(o, r, rtol=1e-5, atol=1e-6)
        except Exception as exc:
            failures.append("%s %s %s: %s" % (name, params, shapes, str(exc)[:300]))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", ["resnet18_v2", "densenet121"])
def test_model_zoo_round_trip(name, tmp_path):
    """BatchNorm comes back as BatchNorm with its moving statistics as aux states."""
    sym, x, arg, aux = zoo(name)
    path = str(tmp_path / "m.onnx")
    sn.onnx.export_model(sym, {**arg, **aux}, [x.shape], onnx_file_path=path)
    sym2, arg2, aux2 = sn.onnx.import_model(path)
    assert len(aux2) == len(aux) and sorted(map(np.shape, aux2.values())) == sorted(map(np.shape, aux.values()))
    ref = forward(sym, {"data": x, **arg}, aux)[0]
    out = forward(sym2, {"data": x, **arg2}, aux2)[0]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_import_errors_name_node_and_op(tmp_path):
    from onnx import helper, TensorProto
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    g = helper.make_graph([helper.make_node("Hardmax", ["x"], ["y"], name="hm1")], "g", [x], [y])
    path = str(tmp_path / "h.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(sn.onnx.OnnxImportError, match=r"'hm1' \(Hardmax\).*no symnorm translation"):
        sn.onnx.import_model(path)
    with pytest.raises(sn.onnx.OnnxImportError, match="no such file"):
        sn.onnx.import_model(str(tmp_path / "missing.onnx"))
    # a Reshape whose constant shape does not fit its constant input: named, not numpy's error
    c = onnx.numpy_helper.from_array(np.ones((2, 3), np.float32), "c")
    s = onnx.numpy_helper.from_array(np.array([4, 2], np.int64), "s")
    g = helper.make_graph([helper.make_node("Reshape", ["c", "s"], ["r"], name="rs"),
                           helper.make_node("Add", ["x", "r"], ["y"])], "g", [x], [y], initializer=[c, s])
    with pytest.raises(sn.onnx.OnnxImportError, match=r"'rs' \(Reshape\).*ValueError"):
        sn.onnx.import_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(sn.onnx.OnnxImportError, match="not a readable ONNX model"):
        sn.onnx.import_model(str(tmp_path / "bad.onnx"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")  # torch's legacy exporter
def test_torch_onnx_resnet_like_net_imports_runs_and_trains(tmp_path):
    """An ONNX model from another framework: a small ResNet-like torch net (conv, BN,
    residual add, max pool, global average pool, flatten, linear), exported by
    torch.onnx (the TorchScript exporter: the default dynamo one needs onnxscript), imported, equal to torch's outputs, then fine-tuned by Module.fit."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
            self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

        def forward(self, x):
            return torch.relu(x + self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))

    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                        Block(8), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                        Block(16), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(16, 5))
    with torch.no_grad():                    # non-trivial running statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    net.eval()
    x = np.random.RandomState(0).rand(4, 3, 16, 16).astype(np.float32)
    path = str(tmp_path / "torch.onnx")
    # PRESERVE: torch leaves BatchNormalization unfused (EVAL folds it into the convs)
    torch.onnx.export(net, (torch.from_numpy(x),), path, dynamo=False, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=["data"], output_names=["out"])
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    sym, arg, aux = sn.onnx.import_model(path)
    assert sym.list_arguments()[0] == "data" and len(aux) == 2 * 6      # 6 BN layers
    out = forward(sym, {"data": x, **arg}, aux)[0]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    # fine-tune: a softmax head on the imported net, two epochs of Module.fit
    train = sn.sym.SoftmaxOutput(sym, name="softmax")
    mod = sn.Module(train)
    labels = np.arange(4) % 5
    mod.fit(sn.io.NDArrayIter(x, labels.astype(np.float32), batch_size=2), num_epoch=2,
            arg_params=arg, aux_params=aux, optimizer_params={"learning_rate": 0.05}, progress=False)
    new_arg, new_aux = mod.get_params()
    assert all(np.isfinite(v).all() for v in new_arg.values())
    assert any(not np.array_equal(new_arg[k], arg[k]) for k in arg)          # weights moved
    assert any(not np.array_equal(new_aux[k], aux[k]) for k in aux)          # statistics moved


# ---------------------------------------------------------------------------- CLI
def test_cli_export_onnx_and_import_onnx(tmp_path, capsys):
    from symnorm.__main__ import main as cli
    sym, x, arg, aux = trained_lenet_bn()
    prefix = str(tmp_path / "lenet")
    sn.model.save_checkpoint(prefix, 3, sym, arg, aux)
    out = str(tmp_path / "lenet.onnx")
    assert cli(["export-onnx", prefix, "3", "--shape", "data=1,1,28,28", "-o", out, "--dynamic"]) == 0
    ref = forward(sym, {"data": x[:5], **arg}, aux)[0]
    np.testing.assert_allclose(run_onnx(out, {"data": x[:5]})[0], ref, rtol=1e-4, atol=1e-6)
    assert cli(["import-onnx", out, "-o", str(tmp_path / "back")]) == 0
    sym2, arg2, aux2 = sn.model.load_checkpoint(str(tmp_path / "back"), 0)
    np.testing.assert_allclose(forward(sym2, {"data": x[:5], **arg2}, aux2)[0], ref, rtol=1e-5, atol=1e-7)
    capsys.readouterr()
    assert cli(["export-onnx", prefix, "3", "-o", out]) == 2                   # no --shape
    assert "--shape data=" in capsys.readouterr().err
    assert cli(["export-onnx", prefix, "3", "--shape", "data=1,1,28,28", "--opset", "5", "-o", out]) == 2
    assert "opset_version 5" in capsys.readouterr().err
    assert cli(["import-onnx", str(tmp_path / "nope.onnx"), "-o", prefix]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("opset", [11, 17])
def test_import_of_foreign_patterns_matches_onnxruntime(opset):
    """Graphs symnorm never writes: torch's Shape/Gather/Concat flatten, Gemm with transB=0
    and alpha/beta, Clip, MatMul by a weight, Slice, Split, ReduceMean, Div with the
    constant on the left, Unsqueeze/Squeeze -- with opset 11's attribute forms too."""
    from onnx import TensorProto, helper as h, numpy_helper as nh
    rng = np.random.RandomState(0)
    c = {"W": (rng.rand(48, 5).astype(np.float32) - 0.5) * 0.1, "C": rng.rand(5).astype(np.float32),
         "W2": rng.rand(5, 6).astype(np.float32), "zero": np.array(0, np.int64),
         "m1": np.array([-1], np.int64), "lo": np.array(0.2, np.float32), "hi": np.array(0.9, np.float32),
         "ax": np.array([1], np.int64), "ax0": np.array([0], np.int64), "st": np.array([1], np.int64),
         "en": np.array([5], np.int64), "sp": np.array([3, 3], np.int64), "two": np.array(2.0, np.float32)}
    old = opset < 13

    def axes_node(op, x, y, axes):
        return h.make_node(op, [x], [y], axes=axes) if old else h.make_node(op, [x, "ax0" if axes == [0] else "ax"], [y])
    nodes = [
        h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        axes_node("Unsqueeze", "n", "n1", [0]), h.make_node("Concat", ["n1", "m1"], ["shp"], axis=0),
        h.make_node("Reshape", ["x", "shp"], ["flat"]),
        h.make_node("Gemm", ["flat", "W", "C"], ["g"], alpha=2.0, beta=0.5),
        h.make_node("Clip", ["g", "lo", "hi"], ["c"]),
        h.make_node("MatMul", ["c", "W2"], ["mm"]),
        h.make_node("Slice", ["mm", "st", "en", "ax"], ["sl"]),
        h.make_node("Split", ["mm"], ["p", "q"], axis=1, split=[3, 3]) if old
        else h.make_node("Split", ["mm", "sp"], ["p", "q"], axis=1),
        h.make_node("Sub", ["p", "q"], ["pq"]),
        h.make_node("ReduceMean", ["pq"], ["rm"], axes=[1], keepdims=1),
        h.make_node("Div", ["two", "rm"], ["dv"]),
        h.make_node("Mul", ["sl", "dv"], ["y0"]),
        axes_node("Unsqueeze", "y0", "y1", [1]), axes_node("Squeeze", "y1", "y", [1]),
    ]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 4])],
                     [h.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
                     initializer=[nh.from_array(v, k) for k, v in c.items()])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    x = rng.rand(2, 3, 4, 4).astype(np.float32)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert 0.2 < np.ptp(ref)                 # the clip leaves something to compare
    sym, arg, aux = sn.onnx.import_model(model)
    np.testing.assert_allclose(forward(sym, {"x": x, **arg}, aux)[0], ref, rtol=1e-5, atol=1e-6)


def test_outputs_named_like_symnorm_even_when_names_collide(tmp_path, capsys):
    """Group outputs: the same entry twice, a variable, and a variable whose name is the
    output name symnorm would give (fc_output) all get distinct, valid output names."""
    x = sn.sym.Variable("fc_output")
    fc = sn.sym.FullyConnected(x, num_hidden=2, name="fc")
    net = sn.sym.Group([fc, fc, x, sn.sym.relu(fc, name="r")])
    w = {"fc_weight": np.ones((2, 3), np.float32), "fc_bias": np.zeros(2, np.float32)}
    path = str(tmp_path / "g.onnx")
    sn.onnx.export_model(net, w, [(2, 3)], onnx_file_path=path, verbose=True)
    assert "fc_weight" in capsys.readouterr().out                    # verbose prints the graph
    names = [o.name for o in onnx.load(path).graph.output]
    assert len(set(names)) == 4 and names[3] == "r_output"
    xv = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    outs = run_onnx(path, {"fc_output": xv})
    for o, r in zip(outs, forward(net, {"fc_output": xv, **w}, {})):
        np.testing.assert_allclose(o, r)


def test_import_reads_weights_listed_as_graph_inputs(tmp_path):
    """MXNet 1.9.1's own exports list every initializer among the graph inputs too: they
    are weights, not data inputs, when they come back."""
    from onnx import helper
    sym, x, arg, aux = trained_lenet_bn()
    path = str(tmp_path / "m.onnx")
    sn.onnx.export_model(sym, {**arg, **aux}, [(4, 1, 28, 28)], onnx_file_path=path)
    model = onnx.load(path)
    model.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                             for t in model.graph.initializer)
    sym2, arg2, aux2 = sn.onnx.import_model(model)
    assert sym2.list_arguments()[0] == "data" and len(arg2) == len(arg) and len(aux2) == len(aux)
    np.testing.assert_allclose(forward(sym2, {"data": x[:4], **arg2}, aux2)[0],
                               forward(sym, {"data": x[:4], **arg}, aux)[0], rtol=1e-5, atol=1e-7)


def test_import_refuses_a_graph_without_outputs_and_complex_weights(tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    empty = helper.make_model(helper.make_graph([], "empty", [x], []))
    with pytest.raises(sn.SymnormError, match="no outputs"):
        sn.onnx.import_model(empty)
    w = numpy_helper.from_array(np.ones((3, 3), np.complex64), "w")
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    cplx = helper.make_model(helper.make_graph([node], "c", [x], [y], initializer=[w]))
    with pytest.raises(sn.SymnormError, match="complex"):
        sn.onnx.import_model(cplx)
