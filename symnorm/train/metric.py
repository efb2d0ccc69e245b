"""Evaluation metrics (``mx.metric``): update with lists of labels and predictions."""
from __future__ import annotations

import json
import math

import numpy

from ..core.dtype import int_labels
from ..core.errors import DataError


def _check_counts(name, labels, preds):
    """One label array per prediction; no labels at all means the iterator yields none."""
    if len(labels) == len(preds):
        return
    if not labels:
        raise ValueError("%s: the data iterator yields no labels, so there is nothing to compare "
                         "the %d prediction(s) with: give the iterator labels (e.g. "
                         "NDArrayIter(data, label)), or predict instead of score/fit with a "
                         "metric" % (name, len(preds)))
    raise ValueError("%s: %d labels for %d predictions" % (name, len(labels), len(preds)))


class EvalMetric:
    """Base metric: accumulates ``sum_metric`` over ``num_inst``; ``get`` gives the mean.

    As in MXNet 1.x there is a local and a global view: ``reset_local`` (what a
    ``Speedometer`` with ``auto_reset`` calls every few batches) restarts ``get`` while
    ``get_global`` keeps covering everything since ``reset`` (what ``fit`` logs as the
    epoch's ``Train-<metric>``)."""
    def __init__(self, name, output_names=None, label_names=None, **config):
        self.name = name
        self.output_names, self.label_names = output_names, label_names
        self._kwargs = config           # the constructor's own arguments, for get_config
        self.reset()

    def get_config(self):
        """The metric's configuration as MXNet 1.9.1 gives it: the constructor's own
        keyword arguments plus ``metric`` (the class name), ``name``, ``output_names`` and
        ``label_names``; ``create(**config)`` makes an equal metric."""
        config = dict(self._kwargs)
        config.update(metric=type(self).__name__, name=self.name,
                      output_names=self.output_names, label_names=self.label_names)
        return config

    def reset(self):
        self.num_inst = 0
        self.sum_metric = 0.0
        self._earlier = (0.0, 0)        # (sum, count) of the parts reset_local put aside

    def reset_local(self):
        self._earlier = (self._earlier[0] + self.sum_metric, self._earlier[1] + self.num_inst)
        self.num_inst = 0
        self.sum_metric = 0.0

    def _from_sums(self, total, count):
        """The metric's value from a sum over ``count`` instances (the mean)."""
        return total / count if count else float("nan")

    def get(self):
        return self.name, self._from_sums(self.sum_metric, self.num_inst)

    def get_global(self):
        return self.name, self._from_sums(self._earlier[0] + self.sum_metric,
                                          self._earlier[1] + self.num_inst)

    def _reduce(self, allreduce_sum):
        """Sum this metric's counts across data-parallel ranks (``allreduce_sum`` sums a
        float64 array in place)."""
        buf = numpy.array([self.sum_metric, self.num_inst, *self._earlier], numpy.float64)
        allreduce_sum(buf)
        self.sum_metric, self.num_inst = float(buf[0]), int(buf[1])
        self._earlier = (float(buf[2]), int(buf[3]))

    def get_name_value(self):
        """``[(name, value)]`` pairs (several for a composite metric)."""
        return _pairs(*self.get())

    def get_global_name_value(self):
        """``get_name_value`` of everything since ``reset`` (see the class docstring)."""
        return _pairs(*self.get_global())

    def update(self, labels, preds):
        if not isinstance(labels, (list, tuple)):
            labels, preds = [labels], [preds]
        _check_counts(self.name, labels, preds)
        for label, pred in zip(labels, preds):
            self._update(numpy.asarray(label), numpy.asarray(pred))

    def __repr__(self):
        return "EvalMetric: %s" % dict(self.get_name_value())


def _check_classes(label, k, name):
    """Labels index the class axis: a negative one would silently pick from the end."""
    bad = (label < 0) | (label >= k)
    if bad.any():
        raise DataError("%s: label %d is outside [0, %d) (the number of classes)"
                        % (name, label[bad][0], k))


class Accuracy(EvalMetric):
    """Fraction of samples whose argmax prediction equals the label."""
    def __init__(self, axis=1, name="accuracy", **kw):
        self.axis = axis
        super().__init__(name, axis=axis, **kw)

    def _update(self, label, pred):
        if pred.shape != label.shape:
            pred = pred.argmax(axis=self.axis)
        label = int_labels(label, "%s: label" % self.name).ravel()
        pred = pred.astype(numpy.int64).ravel()
        self.sum_metric += float((pred == label).sum())
        self.num_inst += len(label)


class TopKAccuracy(EvalMetric):
    """Fraction of samples whose label is among the ``top_k`` highest predictions."""
    def __init__(self, top_k=1, name="top_k_accuracy", **kw):
        self.top_k = top_k
        super().__init__("%s_%d" % (name, top_k), top_k=top_k, **kw)

    def _update(self, label, pred):
        top = numpy.argsort(pred, axis=1)[:, -self.top_k:]
        label = int_labels(label, "%s: label" % self.name).reshape(-1, 1)
        self.sum_metric += float((top == label).any(axis=1).sum())
        self.num_inst += len(label)


class CrossEntropy(EvalMetric):
    """Mean of -log(p[label])."""
    def __init__(self, eps=1e-12, name="cross-entropy", **kw):
        self.eps = eps
        super().__init__(name, eps=eps, **kw)

    def _update(self, label, pred):
        label = int_labels(label, "%s: label" % self.name).ravel()
        probs = pred.reshape(len(label), -1)
        _check_classes(label, probs.shape[1], self.name)
        p = probs[numpy.arange(len(label)), label]
        self.sum_metric += float(-numpy.log(p + self.eps).sum())
        self.num_inst += len(label)


class _Regression(EvalMetric):
    def _update(self, label, pred):
        if label.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1:
            label = label.reshape(-1, 1)
        self.sum_metric += self._value(label.astype(numpy.float64), pred.astype(numpy.float64))
        self.num_inst += 1


class MSE(_Regression):
    """Mean squared error (averaged per batch)."""
    def __init__(self, name="mse", **kw):
        super().__init__(name, **kw)

    def _value(self, label, pred):
        return float(((label - pred) ** 2).mean())


class MAE(_Regression):
    """Mean absolute error (averaged per batch)."""
    def __init__(self, name="mae", **kw):
        super().__init__(name, **kw)

    def _value(self, label, pred):
        return float(numpy.abs(label - pred).mean())


class RMSE(_Regression):
    """Root mean squared error (averaged per batch)."""
    def __init__(self, name="rmse", **kw):
        super().__init__(name, **kw)

    def _value(self, label, pred):
        return float(numpy.sqrt(((label - pred) ** 2).mean()))


class Loss(EvalMetric):
    """Mean of the outputs themselves (for MakeLoss heads): labels are ignored."""
    def __init__(self, name="loss", **kw):
        super().__init__(name, **kw)

    def update(self, labels, preds):
        for pred in (preds if isinstance(preds, (list, tuple)) else [preds]):
            pred = numpy.asarray(pred)
            self.sum_metric += float(pred.sum())
            self.num_inst += pred.size


class NegativeLogLikelihood(CrossEntropy):
    """Mean of -log(p[label] + eps), MXNet's ``nll_loss`` (the same sum as CrossEntropy)."""
    def __init__(self, eps=1e-12, name="nll-loss", **kw):
        super().__init__(eps=eps, name=name, **kw)


class Perplexity(EvalMetric):
    """exp(mean of -log(max(p[label], 1e-10))) over the predictions along ``axis``;
    labels equal to ``ignore_label`` are left out."""
    def __init__(self, ignore_label=None, axis=-1, name="perplexity", **kw):
        self.ignore_label, self.axis = ignore_label, axis
        super().__init__(name, ignore_label=ignore_label, **kw)

    def _update(self, label, pred):
        label = int_labels(label, "%s: label" % self.name).reshape(-1)
        probs = numpy.moveaxis(pred, self.axis, -1).reshape(len(label), -1)
        keep = numpy.ones(len(label), bool) if self.ignore_label is None else label != self.ignore_label
        _check_classes(label[keep], probs.shape[1], self.name)
        p = probs[numpy.arange(len(label)), numpy.where(keep, label, 0)].astype(numpy.float64)
        self.sum_metric += float(-numpy.log(numpy.maximum(1e-10, p[keep])).sum())
        self.num_inst += int(keep.sum())

    def _from_sums(self, total, count):
        return math.exp(total / count) if count else float("nan")


class F1(EvalMetric):
    """Binary F1 of the argmax predictions (class 1 positive).  ``average='macro'``: the F1
    of each update averaged over updates; ``'micro'``: the F1 of all counts together (both
    as MXNet 1.x)."""
    def __init__(self, name="f1", average="macro", **kw):
        if average not in ("macro", "micro"):
            raise ValueError("F1: average must be 'macro' or 'micro', got %r" % (average,))
        self.average = average
        super().__init__(name, **kw)

    def reset(self):
        super().reset()
        self._counts = numpy.zeros(3)          # true positives, false positives, false negatives
        self._global_counts = numpy.zeros(3)

    def reset_local(self):
        super().reset_local()
        self._counts = numpy.zeros(3)

    def _reduce(self, allreduce_sum):
        super()._reduce(allreduce_sum)
        allreduce_sum(self._counts)
        allreduce_sum(self._global_counts)

    @staticmethod
    def _f1(counts):
        tp, fp, fn = counts
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0

    def update(self, labels, preds):
        batch = numpy.zeros(3)
        seen = 0
        for label, pred in zip(labels, preds):
            label = int_labels(label, "%s: label" % self.name).ravel()
            if len(numpy.unique(label)) > 2:
                raise ValueError("F1 handles binary classification only; labels hold %d classes"
                                 % len(numpy.unique(label)))
            hit = numpy.asarray(pred).argmax(axis=1) == 1
            truth = label == 1
            batch += [numpy.sum(hit & truth), numpy.sum(hit & ~truth), numpy.sum(~hit & truth)]
            seen += len(label)
        self._counts += batch
        self._global_counts += batch
        # MXNet 1.9.1 counts updates for 'macro' and samples for 'micro'
        self.num_inst += 1 if self.average == "macro" else seen
        if self.average == "macro":
            self.sum_metric += self._f1(batch)

    def get(self):
        if self.average == "micro":
            return self.name, (self._f1(self._counts) if self.num_inst else float("nan"))
        return super().get()

    def get_global(self):
        if self.average == "micro":
            return self.name, (self._f1(self._global_counts) if self.num_inst + self._earlier[1]
                               else float("nan"))
        return super().get_global()


def _binary_counts(label, pred, name):
    """[tp, fp, fn, tn] of the argmax predictions against binary labels (class 1 positive)."""
    label = int_labels(label, "%s: label" % name).ravel()
    pred = numpy.asarray(pred)
    if pred.ndim != 2 or len(pred) != len(label):
        raise ValueError("%s: predictions of shape %s for %d labels; expected (%d, classes)"
                         % (name, pred.shape, len(label), len(label)))
    if len(numpy.unique(label)) > 2:
        raise ValueError("%s handles binary classification only; labels hold %d classes"
                         % (name, len(numpy.unique(label))))
    hit, truth = pred.argmax(axis=1) == 1, label == 1
    return numpy.array([numpy.sum(hit & truth), numpy.sum(hit & ~truth),
                        numpy.sum(~hit & truth), numpy.sum(~hit & ~truth)], numpy.float64)


class MCC(EvalMetric):
    """Matthews correlation coefficient of binary argmax predictions (class 1 positive):
    (tp·tn - fp·fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)), zero factors of the denominator
    taken as 1.  As MXNet 1.9.1: ``average='macro'`` averages the MCC of each update over
    the updates; ``'micro'`` is the MCC of all the counts together (since ``reset_local``
    for ``get``, since ``reset`` for ``get_global``)."""
    def __init__(self, name="mcc", output_names=None, label_names=None, average="macro"):
        if average not in ("macro", "micro"):
            raise ValueError("MCC: average must be 'macro' or 'micro', got %r" % (average,))
        self._average = average
        super().__init__(name, output_names=output_names, label_names=label_names)

    def reset(self):
        super().reset()
        self._counts = numpy.zeros(4)           # tp, fp, fn, tn since reset_local
        self._global_counts = numpy.zeros(4)    # the same since reset

    def reset_local(self):
        super().reset_local()
        self._counts = numpy.zeros(4)

    def _reduce(self, allreduce_sum):
        super()._reduce(allreduce_sum)
        allreduce_sum(self._counts)
        allreduce_sum(self._global_counts)

    @staticmethod
    def _mcc(counts):
        if not counts.sum():
            return 0.0
        tp, fp, fn, tn = (float(c) for c in counts)
        denom = 1.0
        for term in (tp + fp, tp + fn, tn + fp, tn + fn):
            denom *= term if term else 1.0
        return (tp * tn - fp * fn) / math.sqrt(denom)

    def update(self, labels, preds):
        if not isinstance(labels, (list, tuple)):
            labels, preds = [labels], [preds]
        _check_counts(self.name, labels, preds)
        batch = sum((_binary_counts(l, p, self.name) for l, p in zip(labels, preds)),
                    numpy.zeros(4))
        self._counts += batch
        self._global_counts += batch
        # MXNet 1.9.1 counts updates for 'macro' and samples for 'micro'
        self.num_inst += 1 if self._average == "macro" else int(batch.sum())
        if self._average == "macro":
            self.sum_metric += self._mcc(batch)

    def get(self):
        if self._average == "micro":
            return self.name, (self._mcc(self._counts) if self.num_inst else float("nan"))
        return super().get()

    def get_global(self):
        if self._average == "micro":
            return self.name, (self._mcc(self._global_counts) if self.num_inst + self._earlier[1]
                               else float("nan"))
        return super().get_global()


class CustomMetric(EvalMetric):
    """A metric from ``feval(label, pred)`` on numpy arrays: it returns a value (counted as
    one instance) or a ``(sum, count)`` pair.  ``name`` defaults to the function's name."""
    def __init__(self, feval, name=None, allow_extra_outputs=False, **kw):
        if name is None:
            name = feval.__name__
            if "<" in name:
                name = "custom(%s)" % name
        self._feval, self._allow_extra_outputs = feval, allow_extra_outputs
        super().__init__(name, **kw)

    def get_config(self):
        raise NotImplementedError("CustomMetric cannot be serialized (its function is code, "
                                  "not configuration)")

    def update(self, labels, preds):
        if not self._allow_extra_outputs or not labels:
            _check_counts(self.name, labels, preds)
        for label, pred in zip(labels, preds):
            value = self._feval(numpy.asarray(label), numpy.asarray(pred))
            if isinstance(value, tuple):
                self.sum_metric += value[0]
                self.num_inst += value[1]
            else:
                self.sum_metric += value
                self.num_inst += 1


def np_metric(numpy_feval, name=None, allow_extra_outputs=False):
    """MXNet's ``mx.metric.np``: a ``CustomMetric`` over numpy arrays."""
    return CustomMetric(numpy_feval, name, allow_extra_outputs)


class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together."""
    def __init__(self, metrics=None, name="composite", **kw):
        self.metrics = [create(m) for m in (metrics or [])]
        super().__init__(name, **kw)

    def get_config(self):
        config = super().get_config()
        config["metrics"] = [m.get_config() for m in self.metrics]
        return config

    def add(self, metric):
        """Add one more metric (an instance or a name)."""
        self.metrics.append(create(metric))

    def reset(self):
        for m in getattr(self, "metrics", []):
            m.reset()

    def reset_local(self):
        for m in self.metrics:
            m.reset_local()

    def _reduce(self, allreduce_sum):
        for m in self.metrics:
            m._reduce(allreduce_sum)

    def update(self, labels, preds):
        for m in self.metrics:
            m.update(labels, preds)

    def get(self):
        return self._collect(lambda m: m.get_name_value())

    def get_global(self):
        return self._collect(lambda m: m.get_global_name_value())

    def _collect(self, pairs):
        names, values = [], []
        for m in self.metrics:
            for n, v in pairs(m):
                names.append(n)
                values.append(v)
        return names, values


def _pairs(name, value):
    return list(zip(name, value)) if isinstance(name, list) else [(name, value)]


# registered here; they live in their own module only to keep this file short
from symnorm.train.metric_corr import PCC, PearsonCorrelation  # noqa: E402

_NAMES = {"acc": Accuracy, "accuracy": Accuracy, "top_k_accuracy": TopKAccuracy,
          "top_k_acc": TopKAccuracy, "ce": CrossEntropy, "cross-entropy": CrossEntropy,
          "crossentropy": CrossEntropy, "nll_loss": NegativeLogLikelihood,
          "negativeloglikelihood": NegativeLogLikelihood, "perplexity": Perplexity, "f1": F1,
          "mcc": MCC, "pcc": PCC,
          "topkaccuracy": TopKAccuracy, "compositeevalmetric": CompositeEvalMetric,
          "pearsonr": PearsonCorrelation, "pearsoncorrelation": PearsonCorrelation,
          "mse": MSE, "mae": MAE, "rmse": RMSE, "loss": Loss}


def create(metric, *args, **kwargs) -> EvalMetric:
    """A metric from a name ('acc', 'ce', 'mse', ...) with its constructor's arguments, an
    instance, a function (``CustomMetric``), a list of these (each made with the arguments),
    or a configuration as ``get_config`` gives it: a dict, or its JSON text (also MXNet's
    ``'["name", {kwargs}]'`` form)."""
    if isinstance(metric, EvalMetric):
        return metric
    if callable(metric):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, (list, tuple)):
        return CompositeEvalMetric([create(m, *args, **kwargs) for m in metric])
    if isinstance(metric, dict):
        return create(**metric)
    if isinstance(metric, str) and metric.lstrip()[:1] in ("{", "["):
        config = json.loads(metric)
        if isinstance(config, list):
            return create(config[0], **config[1])
        return create(**config)
    cls = _NAMES.get(str(metric).lower())
    if cls is None:
        raise ValueError("unknown metric %r; known: %s" % (metric, ", ".join(sorted(_NAMES))))
    return cls(*args, **kwargs)


np = np_metric   # MXNet's mx.metric.np (this module calls numpy by its full name)

__all__ = ["EvalMetric", "Accuracy", "TopKAccuracy", "CrossEntropy", "MSE", "MAE", "RMSE",
           "NegativeLogLikelihood", "Perplexity", "F1", "MCC", "PearsonCorrelation", "PCC", "CustomMetric",
           "np_metric",
           "Loss", "CompositeEvalMetric", "create"]
