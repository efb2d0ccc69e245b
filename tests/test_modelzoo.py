"""Real MXNet models: the Gluon model-zoo classifiers exported by MXNet 1.9.1 load, run and
match MXNet's outputs; checkpoints round-trip; fine-tuning works; the predict CLI."""
import gzip
import os

import numpy as np
import pytest

import symnorm as sn
from symnorm.__main__ import main as cli

from modelzoo_common import MODELS, input_for, params_for

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "modelzoo")


def load(name):
    with gzip.open(os.path.join(HERE, name + "-symbol.json.gz"), "rt") as f:
        return sn.sym.load_json(f.read())


def checkpoint(name, tmp_path, x):
    """Write the deterministic weights as an MXNet checkpoint with symnorm."""
    sym = load(name)
    a, _, x_ = sym.infer_shape(data=x.shape)
    arg, aux = params_for(sym.list_arguments(), a, sym.list_auxiliary_states(), x_)
    prefix = str(tmp_path / name)
    sn.model.save_checkpoint(prefix, 0, sym, arg, aux)
    return prefix


@pytest.mark.parametrize("name", list(MODELS))
def test_model_zoo_network_matches_mxnet(name, tmp_path):
    x = input_for(name)
    prefix = checkpoint(name, tmp_path, x)
    pred = sn.model.Predictor.from_checkpoint(prefix, 0, {"data": x.shape})
    out = pred.predict(data=x)[0].copy()
    ref = np.load(os.path.join(HERE, name + "-output.npy"))
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-4 * np.abs(ref).max()
    # the second call runs the plan's compiled forward: the same ops in the same order
    np.testing.assert_array_equal(pred.predict(data=x)[0], out)


def test_predictor_does_not_demand_labels_and_reports_missing_params(tmp_path):
    net = sn.sym.SoftmaxOutput(sn.sym.FullyConnected(sn.sym.Variable("data"), num_hidden=3, name="fc"),
                               name="softmax")
    assert sn.model.label_variables(net) == ["softmax_label"]
    w = {"fc_weight": np.ones((3, 4)), "fc_bias": np.zeros(3)}
    p = sn.model.Predictor(net, w, {}, {"data": (2, 4)})
    assert p.predict(data=np.ones((5, 4)))[0].shape == (5, 3)       # new batch size rebinds
    with pytest.raises(sn.BindError, match="fc_bias"):
        sn.model.Predictor(net, {"fc_weight": np.ones((3, 4))}, {}, {"data": (2, 4)})


def test_predictor_treats_only_loss_head_inputs_as_labels():
    """An index input (Embedding's data, take's indices: no gradient, but not a label) is
    not a label: left out, it is reported missing instead of being filled with zeros."""
    idx, x = sn.sym.Variable("idx"), sn.sym.Variable("x")
    assert sn.model.label_variables(sn.sym.take(x, sn.sym.Variable("rows"))) == []
    net = sn.sym.Embedding(idx, input_dim=3, output_dim=2, name="emb") + x
    assert sn.model.label_variables(net) == []
    w = {"emb_weight": np.arange(6.0).reshape(3, 2)}
    with pytest.raises(sn.BindError, match="missing from the checkpoint: idx"):
        sn.model.Predictor(net, w, {}, {"x": (2, 2)})
    p = sn.model.Predictor(net, w, {}, {"x": (2, 2), "idx": (2,)})
    out = p.predict(x=np.ones((2, 2)), idx=np.array([2, 0]))[0]
    np.testing.assert_array_equal(out, [[5, 6], [1, 2]])


def test_finetune_replace_head_freeze_bn_save_reload(tmp_path):
    x = input_for("resnet18_v1")[:, :, :32, :32]
    prefix = checkpoint("resnet18_v1", tmp_path, x)
    sym, arg, aux = sn.model.load_checkpoint(prefix, 0)
    head = [n for n in sn.graph.dfs_postorder(sym.entries) if n.op is not None][-1]
    features = sn.sym.Symbol([head.inputs[0]])                     # what fed the old classifier
    net = sn.sym.FullyConnected(features, num_hidden=3, name="newhead")
    net = sn.sym.SoftmaxOutput(net, name="softmax")
    net, frozen = sn.freeze_batchnorm(net)
    rng = np.random.RandomState(0)
    data = rng.rand(8, 3, 32, 32).astype(np.float32)
    labels = (np.arange(8) % 3).astype(np.float32)
    mod = sn.Module(net, fixed_param_names=frozen)
    it = sn.io.NDArrayIter(data, labels, batch_size=4)
    keep = {k: v for k, v in arg.items() if k in net.list_arguments()}
    mod.fit(it, num_epoch=2, arg_params=keep, aux_params=aux, allow_missing=True,
            initializer=sn.init.Xavier(), optimizer_params={"learning_rate": 1e-4}, progress=False)
    new_arg, new_aux = mod.get_params()
    assert all(np.isfinite(v).all() for v in new_arg.values())       # training did not diverge
    for k in frozen:
        np.testing.assert_array_equal(new_arg[k], arg[k])           # frozen BN affine kept
    for k in aux:
        np.testing.assert_array_equal(new_aux[k], aux[k])           # frozen statistics kept
    assert not np.array_equal(new_arg["resnetv10_conv0_weight"], arg["resnetv10_conv0_weight"])
    mod.save_checkpoint(str(tmp_path / "tuned"), 1)
    again = sn.Module.load(str(tmp_path / "tuned"), 1)
    again.bind(it.provide_data, it.provide_label, for_training=False)
    again.init_params()
    out = mod.predict(it)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, again.predict(it))


def test_predict_cli(tmp_path, capsys):
    x = input_for("squeezenet1.0")
    prefix = checkpoint("squeezenet1.0", tmp_path, x)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    assert cli(["predict", prefix, "0", "--input", str(tmp_path / "x.npy"), "-o", str(out)]) == 0
    ref = np.load(os.path.join(HERE, "squeezenet1.0-output.npy"))
    assert np.abs(np.load(out) - ref).max() <= 1e-4 * np.abs(ref).max()
    assert cli(["predict", prefix, "0", "--input", str(tmp_path / "x.npy"),
                "-o", str(tmp_path / "y2")]) == 0          # np.save's rule: .npy appended
    assert np.array_equal(np.load(tmp_path / "y2.npy"), np.load(out))
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert cli(["predict", str(tmp_path / "nope"), "0", "--input", str(tmp_path / "x.npy")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert cli(["predict", prefix, "0", "--input", str(tmp_path / "x.npy"),
                "--shape", "data=2,3,224,224"]) == 2
    assert "shape" in capsys.readouterr().err
