"""Every example runs (smoke tests with small sizes)."""
import os
import runpy

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist-t10k")


def load_example(name):
    return runpy.run_path(os.path.join(ROOT, "examples", name + ".py"), run_name="example")


def test_batchnorm_from_scratch_matches_fused():
    ex = load_example("batchnorm_from_scratch")
    diffs, times = ex["main"](["--shape", "4,3,5,5", "--repeat", "1"])
    assert max(diffs.values()) < 1e-4
    assert set(times) == {"from primitives", "sym.BatchNorm"}


@pytest.mark.skipif(not os.path.isdir(MNIST), reason="../shared/data/mnist-t10k not present")
def test_lenet_bn_demo_learns_on_mnist(tmp_path):
    ex = load_example("lenet_bn")
    acc = ex["main"](["--data-dir", MNIST, "--epochs", "1", "--out", str(tmp_path)])
    assert acc > 0.85
    assert (tmp_path / "lenet_bn-symbol.json").exists()
