"""Every example runs (smoke tests with small sizes)."""
import os
import runpy

import numpy as np

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


def test_architecture_doc_example_adds_a_working_op(rng):
    import re
    import symnorm as sn
    from symnorm.registry import REGISTRY
    import harness
    src = open(os.path.join(ROOT, "docs", "architecture.md")).read()
    code = re.findall(r"```python\n(.*?)```", src, re.S)[0]
    try:
        exec(code, {})
        s = sn.sym.Softplus(sn.sym.Variable("x"), beta=2.0)
        assert s.infer_shape(x=(3, 4))[1] == [(3, 4)]
        harness.check_gradient("Softplus", {"beta": 2.0}, {"data": (3, 4)}, rng)
        harness.check_json_roundtrip("Softplus", {"beta": 2.0}, {"data": (3, 4)})
    finally:
        REGISTRY.pop("Softplus", None)


def test_input_normalization_example_freezes_affine_and_learns_statistics():
    results = load_example("input_normalization")["main"](epochs=8)
    for how, (acc, gamma, beta, mean, var) in results.items():
        np.testing.assert_array_equal(gamma, 1)
        np.testing.assert_array_equal(beta, 0)
        assert mean[0] > 1000 and var[0] > 1e4, how          # statistics moved to the data's
        assert acc > 0.7, how


def test_finetune_frozen_bn_example():
    unchanged, acc = load_example("finetune_frozen_bn")["main"]()
    assert unchanged and acc > 0.5


def test_layernorm_sequence_example():
    assert load_example("layernorm_sequence")["main"](epochs=10) > 0.9
