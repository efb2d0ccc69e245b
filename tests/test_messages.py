"""Messages that point the right way: a label variable Module does not know, an iterator
without labels, the demo's --help, and the demo's --no-bn files."""
import os
import runpy

import numpy as np
import pytest

import symnorm as sn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def net_with_label(label="lbl"):
    fc = sn.sym.FullyConnected(sn.sym.Variable("data"), num_hidden=3, name="fc")
    return sn.sym.SoftmaxOutput(fc, sn.sym.Variable(label), name="sm")


def test_custom_label_variable_is_pointed_to_label_names():
    it = sn.io.NDArrayIter(np.ones((4, 5), np.float32), np.zeros(4, np.float32), batch_size=2)
    with pytest.raises(ValueError, match=r"label_names=\['lbl'\]"):
        sn.Module(net_with_label()).fit(it, num_epoch=1)


def test_iterator_without_labels_is_named():
    it = sn.io.NDArrayIter(np.ones((4, 5), np.float32), batch_size=2)
    mod = sn.Module(net_with_label("softmax_label"))
    with pytest.raises(ValueError, match="iterator yields no labels"):
        mod.fit(it, num_epoch=1, initializer=sn.init.Xavier())


def _demo():
    return runpy.run_path(os.path.join(ROOT, "examples", "lenet_bn.py"), run_name="example")["main"]


def test_demo_help_is_whole_sentences(capsys):
    with pytest.raises(SystemExit):
        _demo()(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "built symbolically and trained with the executor: forward, backward" in out


def test_demo_without_batchnorm_keeps_the_batchnorm_runs_files(tmp_path):
    main = _demo()
    rng = np.random.RandomState(0)

    def tiny(data_dir):
        x = rng.rand(40, 1, 28, 28).astype(np.float32)
        y = (np.arange(40) % 10).astype(np.float32)
        return x[:32], y[:32], x[32:], y[32:], "tiny"
    main.__globals__["load_data"] = tiny
    common = ["--epochs", "1", "--batch-size", "8", "--no-progress", "--out", str(tmp_path)]
    main(common)
    before = (tmp_path / "lenet_bn-symbol.json").read_text()
    main(common + ["--no-bn"])
    assert (tmp_path / "lenet_bn-symbol.json").read_text() == before
    assert "BatchNorm" not in (tmp_path / "lenet_nobn-symbol.json").read_text()
