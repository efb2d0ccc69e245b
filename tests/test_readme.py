"""The README's Python examples run as written.

The first block is self-contained; the others use names a reader brings (``net``, the
training arrays, an ``image``, a ``resnet-18`` checkpoint), which the harness supplies with
small stand-ins, in a temporary working directory so relative paths like ``out/net`` are
as fresh as on a user's machine."""
import os
import re

import numpy as np

import symnorm as sn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_blocks():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def small_lenet():
    net = sn.sym.Convolution(sn.sym.Variable("data"), kernel=(3, 3), num_filter=4, name="c1")
    net = sn.sym.Activation(sn.sym.BatchNorm(net, name="bn1"), act_type="relu")
    net = sn.sym.FullyConnected(sn.sym.Flatten(net), num_hidden=10, name="fc")
    return sn.sym.SoftmaxOutput(net, name="softmax")


def tiny_resnet_checkpoint(prefix):
    """A checkpoint with ResNet-18's input and output shapes (1x3x224x224 -> 1x10)."""
    net = sn.sym.Convolution(sn.sym.Variable("data"), kernel=(7, 7), stride=(4, 4),
                             num_filter=4, name="conv0")
    net = sn.sym.FullyConnected(sn.sym.BatchNorm(net, name="bn0"), num_hidden=10, name="fc")
    net = sn.sym.SoftmaxOutput(net, name="softmax")
    mod = sn.Module(net)
    mod.bind([("data", (1, 3, 224, 224))], [("softmax_label", (1,))], for_training=False)
    mod.init_params()
    sn.model.save_checkpoint(prefix, 0, net, *mod.get_params())


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = readme_blocks()
    assert len(blocks) == 4, "README's Python blocks changed: update this harness"
    monkeypatch.chdir(tmp_path)
    first = {}
    exec(blocks[0], first)
    assert first["ex"].aux_dict["bn_moving_mean"].shape == (3,)
    assert np.abs(first["ex"].aux_dict["bn_moving_mean"]).max() > 0     # written back

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 256).astype(np.float32)
    tiny_resnet_checkpoint("resnet-18")
    ns = {"sn": sn, "np": np, "net": small_lenet(), "x": x, "y": y, "vx": x[:128], "vy": y[:128],
          "image": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)}
    for block in blocks[1:]:
        exec(block, ns)
    np.testing.assert_allclose(ns["probs"].sum(), 1.0, rtol=1e-5)
    assert "fc_weight" in ns["arg"] and "bn1_moving_var" in ns["aux"]     # out/net-0010
    assert (tmp_path / "out" / "net-0010.params").exists()
    assert (tmp_path / "net.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert "<html" in (tmp_path / "net.html").read_text().lower()
