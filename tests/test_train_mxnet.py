"""Training-layer behaviours MXNet 1.9.1's unit tests check.  test_metric.py: create() from
a name with positional arguments or from a get_config() (dict or JSON), F1/MCC 'micro'
counting samples, PearsonCorrelation(average='micro'), PCC (multiclass MCC).  test_init.py:
Constant(array).dumps()."""
import json

import numpy as np
import pytest

import symnorm as sn


@pytest.mark.parametrize("args", [("acc",), ("f1",), ("mcc",), ("perplexity", -1), ("pearsonr",),
                                  ("pcc",), ("nll_loss",), ("loss",), (["acc", "f1"],)])
def test_create_round_trips_get_config(args):
    metric = sn.metric.create(*args)
    config = metric.get_config()
    for again in (sn.metric.create(json.dumps(config)), sn.metric.create(config)):
        assert type(again) is type(metric) and again.get_config() == config
    assert sn.metric.create('["acc", {"axis": 0}]').axis == 0
    assert sn.metric.create("perplexity", -1).ignore_label == -1


@pytest.mark.parametrize("cls", [sn.metric.F1, sn.metric.MCC])
def test_micro_average_counts_samples_and_zero_positives_give_zero(cls):
    micro, macro = cls(average="micro"), cls(average="macro")
    assert np.isnan(micro.get()[1]) and np.isnan(macro.get()[1])
    pred, label = np.array([[0.9, 0.1], [0.8, 0.2]]), np.array([0, 0])
    for m in (micro, macro):
        m.update([label], [pred])
        assert m.get()[1] == 0.0             # no positives at all: 0, not nan
    assert micro.num_inst == 2 and macro.num_inst == 1
    micro.reset_local()
    assert np.isnan(micro.get()[1]) and micro.get_global()[1] == 0.0


def test_pearson_micro_is_the_r_of_everything_seen():
    rs = np.random.RandomState(0)
    p1, l1 = rs.rand(3, 2), rs.rand(3, 2)
    p2, l2 = rs.rand(5, 2) * 4 + 1, rs.rand(5, 2)
    micro = sn.metric.create("pearsonr", average="micro")
    assert np.isnan(micro.get()[1])
    micro.update([l1], [p1])
    np.testing.assert_allclose(micro.get()[1], np.corrcoef(p1.ravel(), l1.ravel())[0, 1])
    micro.update([l2], [p2])
    both = np.corrcoef(np.r_[p1.ravel(), p2.ravel()], np.r_[l1.ravel(), l2.ravel()])[0, 1]
    np.testing.assert_allclose(micro.get()[1], both, rtol=1e-12)
    assert micro.num_inst == 2
    micro.reset_local()
    micro.update([l1], [p1])
    np.testing.assert_allclose(micro.get()[1], np.corrcoef(p1.ravel(), l1.ravel())[0, 1])
    np.testing.assert_allclose(micro.get_global()[1],
                               np.corrcoef(np.r_[p1.ravel(), p2.ravel(), p1.ravel()],
                                           np.r_[l1.ravel(), l2.ravel(), l1.ravel()])[0, 1])
    with pytest.raises(ValueError, match="average"):
        sn.metric.PearsonCorrelation(average="weighted")


def _batch(cm):
    """Labels and one-hot predictions whose confusion matrix (label row, prediction column)
    is ``cm``."""
    labels, preds = [], []
    for i, row in enumerate(cm):
        for j, count in enumerate(row):
            labels += [i] * count
            preds += [np.eye(len(cm))[j]] * count
    return np.array(labels), np.array(preds)


def test_pcc_is_multiclass_mcc():
    labels, preds = _batch([[7, 3], [2, 5]])
    pcc, mcc = sn.metric.create("pcc"), sn.metric.create("mcc")
    pcc.update([labels], [preds])
    mcc.update([labels], [preds])
    np.testing.assert_allclose(pcc.get()[1], mcc.get()[1])
    by_index = sn.metric.PCC()
    by_index.update([labels], [preds.argmax(axis=1)])
    assert by_index.get()[1] == pcc.get()[1]
    # three classes against Gorodkin's R_K written out
    cm = np.array([[23, 13, 3], [7, 19, 11], [2, 5, 17]])
    n, t, p = cm.sum(), cm.sum(axis=1), cm.sum(axis=0)
    ref = (n * np.trace(cm) - t @ p) / np.sqrt((n * n - t @ t) * (n * n - p @ p))
    labels, preds = _batch(cm)
    pcc.reset()
    pcc.update([labels], [preds])
    np.testing.assert_allclose(pcc.get()[1], ref)
    one_by_one = sn.metric.PCC()           # order and batch size do not matter
    for i in reversed(range(len(labels))):
        one_by_one.update([labels[i:i + 1]], [preds[i:i + 1]])
    np.testing.assert_allclose(one_by_one.get()[1], ref)
    assert one_by_one.num_inst == len(labels)
    assert np.isnan(sn.metric.PCC().get()[1])


def test_constant_initializer_with_an_array_dumps_as_lists():
    """MXNet 1.9.1's test_init: Constant(array).dumps() writes the array as nested lists
    (and the result recreates the initializer)."""
    init = sn.init.Constant(np.arange(6.0).reshape(2, 3))
    text = init.dumps()
    assert text == json.dumps(["constant", {"value": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]}])
    assert text == json.dumps([init.__class__.__name__.lower(), init._kwargs])
    a = np.zeros((2, 3))
    sn.init.create(text)("x_weight", a)
    assert a.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert sn.init.Constant(1).dumps() == '["constant", {"value": 1}]'


def test_ndarrayiter_data_iter_protocol_and_a_batch_larger_than_the_data(tmp_path):
    """MXNet 1.9.1's test_io: ``idx`` is the epoch's (shuffled) order; iter_next/getdata/
    getlabel/getpad/getindex read the batch reached; a 'pad' batch larger than the data
    repeats it (10 samples, batch 205: the data 20 times and 5 more, pad 195)."""
    data = np.arange(10.0)
    it = sn.io.NDArrayIter(data=data, batch_size=205, last_batch_handle="pad")
    batch = it.next()
    np.testing.assert_array_equal(batch.data[0], np.concatenate([np.tile(data, 20), np.arange(5)]))
    assert batch.pad == 195
    sn.random.seed(3)
    it = sn.io.NDArrayIter(data.reshape(10, 1), data, batch_size=4, shuffle=True,
                           last_batch_handle="roll_over")
    order = it.idx.copy()
    assert sorted(order) == list(range(10))
    with pytest.raises(ValueError, match="iter_next"):
        it.getdata()
    seen = []
    while it.iter_next():
        np.testing.assert_array_equal(it.getdata()[0].ravel(), it.getlabel()[0])
        seen += list(it.getindex())
        assert it.getpad() == 0
    assert seen == list(order[:8])                  # 2 samples roll over
    it.hard_reset()                                 # ... unless dropped
    assert len(it.idx) == 10 and it.iter_next() and it.getpad() == 0
    path = tmp_path / "d.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    csv = sn.io.CSVIter(data_csv=str(path), data_shape=(2,), batch_size=2)
    assert csv.iter_next() and csv.getdata().tolist() == [[1, 2], [3, 4]]   # one array


def test_module_takes_any_batch_object_arrays_and_positional_names():
    """MXNet 1.9.1's test_forward_types / test_forward_reshape: a batch is anything with
    ``.data`` (a namedtuple; a new shape rebinds), ``predict`` takes an array, and a batch
    whose names are not the module's (NDArrayIter([a, b]) says _0_data, _1_data) goes by
    position."""
    from collections import namedtuple
    Batch = namedtuple("Batch", ["data"])
    mod = sn.mod.Module(sn.sym.Variable("data") * 2, label_names=None)
    mod.bind(data_shapes=[("data", (1, 10))])
    mod.init_params()
    mod.forward(Batch([np.ones((3, 5))]))
    assert mod.get_outputs()[0].shape == (3, 5)
    np.testing.assert_array_equal(mod.predict(np.ones((1, 10))), np.full((1, 10), 2.0))
    a, b = sn.sym.Variable("data1"), sn.sym.Variable("data2")
    net = sn.sym.LinearRegressionOutput(a - b, name="lro")
    mod = sn.mod.Module(net, data_names=["data1", "data2"], label_names=["lro_label"])
    mod.bind(data_shapes=[("data1", (2, 3)), ("data2", (2, 3))], label_shapes=[("lro_label", (2, 3))])
    mod.init_params()
    x, y = np.arange(12.0).reshape(4, 3), np.ones((4, 3))
    it = sn.io.NDArrayIter([x, y], [x - y], batch_size=2)
    assert it.provide_data[0].name == "_0_data"
    np.testing.assert_allclose(mod.predict(it), x - y)
    assert mod.score(it, "mse")[0][1] == 0.0


def test_set_params_missing_is_a_runtime_error_checked_before_extra():
    """MXNet 1.9.1's test_module_set_params: a missing parameter raises RuntimeError (also
    when extra ones are given too), an extra one ValueError."""
    net = sn.sym.FullyConnected(sn.sym.Variable("data"), num_hidden=2, name="fc")
    mod = sn.mod.Module(net, label_names=None)
    mod.bind(data_shapes=[("data", (1, 2))])
    w, b = np.ones((2, 2)), np.zeros(2)
    with pytest.raises(RuntimeError, match="'fc_bias' is not presented"):
        mod.set_params({"fc_weight": w}, {})
    with pytest.raises(RuntimeError, match="'fc_weight', 'fc_bias' are not presented"):
        mod.set_params({"other": w}, {})
    with pytest.raises(ValueError, match="not in the symbol"):
        mod.set_params({"other": w}, {}, allow_missing=True)
    mod.set_params({"fc_weight": w, "fc_bias": b, "other": w}, {}, allow_extra=True)
    assert issubclass(sn.MissingParamError, sn.BindError)
