"""MXNet 1.9.1's smaller public names: metric ``mcc`` and ``get_config``, the optimizers
FTML, LAMB and SGLD, op constructors' positional and hidden-attribute forms, and
``test_utils``'s helpers; goldens measured with MXNet 1.9.1."""
import numpy as np
import pytest

import symnorm as sn


def _binary_batches():
    rng = np.random.RandomState(0)
    out = []
    for _ in range(3):
        p = rng.rand(10, 2)
        out.append((rng.randint(0, 2, 10).astype(np.float32),
                    (p / p.sum(1, keepdims=True)).astype(np.float32)))
    return out


# MXNet 1.9.1: (get, get_global) after each of three updates (reset_local after the
# second), then once more at the end
MX_MCC = {
    "macro": [(-0.42857142857142855, -0.42857142857142855), (-0.3233946594037105, -0.3233946594037105),
              (0.21821789023599236, -0.14285714285714288), (0.21821789023599236, -0.14285714285714288)],
    "micro": [(-0.42857142857142855, -0.42857142857142855), (-0.2041241452319315, -0.2041241452319315),
              (0.21821789023599236, -0.13875598086124402), (0.21821789023599236, -0.13875598086124402)],
}


@pytest.mark.parametrize("average", ["macro", "micro"])
def test_mcc_matches_mxnet_local_and_global(average):
    m = sn.metric.create("mcc", average=average)
    assert m.name == "mcc" and np.isnan(m.get()[1])
    got = []
    for i, (label, pred) in enumerate(_binary_batches()):
        m.update([label], [pred])
        got.append((m.get()[1], m.get_global()[1]))
        if i == 1:
            m.reset_local()
    got.append((m.get()[1], m.get_global()[1]))
    np.testing.assert_allclose(got, MX_MCC[average], rtol=1e-12)
    assert isinstance(sn.metric.MCC(), sn.metric.EvalMetric)
    with pytest.raises(ValueError, match="binary"):
        sn.metric.MCC().update([np.array([0, 1, 2])], [np.eye(3)])


def test_metric_get_config_as_mxnet():
    base = {"output_names": None, "label_names": None}
    cases = [  # create(...) arguments, MXNet 1.9.1's get_config()
        (("acc",), {}, {"axis": 1, "metric": "Accuracy", "name": "accuracy"}),
        (("acc",), {"axis": 0}, {"axis": 0, "metric": "Accuracy", "name": "accuracy"}),
        (("top_k_accuracy",), {"top_k": 3}, {"top_k": 3, "metric": "TopKAccuracy", "name": "top_k_accuracy_3"}),
        (("ce",), {}, {"eps": 1e-12, "metric": "CrossEntropy", "name": "cross-entropy"}),
        (("nll_loss",), {}, {"eps": 1e-12, "metric": "NegativeLogLikelihood", "name": "nll-loss"}),
        (("perplexity",), {"ignore_label": 0}, {"ignore_label": 0, "metric": "Perplexity", "name": "perplexity"}),
        (("f1",), {"average": "micro"}, {"metric": "F1", "name": "f1"}),
        (("mcc",), {}, {"metric": "MCC", "name": "mcc"}),
        (("mse",), {}, {"metric": "MSE", "name": "mse"}),
        (("rmse",), {}, {"metric": "RMSE", "name": "rmse"}),
        (("loss",), {}, {"metric": "Loss", "name": "loss"}),
        (("pearsonr",), {}, {"metric": "PearsonCorrelation", "name": "pearsonr"}),
    ]
    for args, kw, expect in cases:
        assert sn.metric.create(*args, **kw).get_config() == {**base, **expect}, args
    named = sn.metric.create("ce", eps=1e-3, name="x", output_names=["a"], label_names=["b"])
    assert named.get_config() == {"eps": 0.001, "metric": "CrossEntropy", "name": "x",
                                  "output_names": ["a"], "label_names": ["b"]}
    comp = sn.metric.create(["acc", "mse"]).get_config()
    assert comp == {"metric": "CompositeEvalMetric", "name": "composite", **base,
                    "metrics": [{"axis": 1, "metric": "Accuracy", "name": "accuracy", **base},
                                {"metric": "MSE", "name": "mse", **base}]}
    # a config recreates the metric (MXNet: the top-k name gains its suffix twice)
    assert sn.metric.create(**sn.metric.create("top_k_accuracy", top_k=3).get_config()).name \
        == "top_k_accuracy_3_3"
    assert sn.metric.create(**sn.metric.create("mcc").get_config()).name == "mcc"
    with pytest.raises(NotImplementedError, match="CustomMetric cannot be serialized"):
        sn.metric.create(lambda a, b: 1.0).get_config()
