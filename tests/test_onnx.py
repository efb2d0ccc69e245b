"""The ONNX bridge (symnorm.onnx): exports checked by onnx.checker and run in onnxruntime
against symnorm's own forward and MXNet's reference outputs; imports back into symnorm."""
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
from modelzoo_common import MODELS, input_for, params_for  # noqa: E402
from symnorm.registry import REGISTRY  # noqa: E402

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "modelzoo")


def session(path):
    opts = ort.SessionOptions()
    opts.log_severity_level = 1          # warnings included: they would go to stderr
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(path, feed):
    sess = session(path)
    return sess.run(None, {i.name: feed[i.name] for i in sess.get_inputs()})


def forward(sym, args, aux):
    ex = sym.bind(sn.cpu(), args=dict(args), aux_states=dict(aux), grad_req="null")
    return [o.copy() for o in ex.forward(is_train=False)]


def check_export(sym, data, params, aux, tmp_path, opset=None, rtol=1e-4, name="net"):
    """Export, check the file, run it in onnxruntime; outputs equal symnorm's."""
    path = tmp_path / (name + ".onnx")
    assert sn.onnx.export_model(sym, {**params, **aux}, {k: v.shape for k, v in data.items()},
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
    code = ("import sys, symnorm, symnorm.onnx; import symnorm.interop.onnx.export; "
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
def test_model_zoo_exports_run_in_onnxruntime_and_match_mxnet(name, tmp_path):
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
