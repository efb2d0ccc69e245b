"""Evaluation metrics (``mx.metric``): update with lists of labels and predictions."""
from __future__ import annotations

import numpy as np


class EvalMetric:
    """Base metric: accumulates ``sum_metric`` over ``num_inst``; ``get`` gives the mean.

    As in MXNet 1.x there is a local and a global view: ``reset_local`` (what a
    ``Speedometer`` with ``auto_reset`` calls every few batches) restarts ``get`` while
    ``get_global`` keeps covering everything since ``reset`` (what ``fit`` logs as the
    epoch's ``Train-<metric>``)."""
    def __init__(self, name, output_names=None, label_names=None):
        self.name = name
        self.output_names, self.label_names = output_names, label_names
        self.reset()

    def reset(self):
        self.num_inst = 0
        self.sum_metric = 0.0
        self._earlier = (0.0, 0)        # (sum, count) of the parts reset_local put aside

    def reset_local(self):
        self._earlier = (self._earlier[0] + self.sum_metric, self._earlier[1] + self.num_inst)
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self):
        return self.name, (self.sum_metric / self.num_inst if self.num_inst else float("nan"))

    def get_global(self):
        total, count = self._earlier[0] + self.sum_metric, self._earlier[1] + self.num_inst
        return self.name, (total / count if count else float("nan"))

    def get_name_value(self):
        """``[(name, value)]`` pairs (several for a composite metric)."""
        return _pairs(*self.get())

    def get_global_name_value(self):
        """``get_name_value`` of everything since ``reset`` (see the class docstring)."""
        return _pairs(*self.get_global())

    def update(self, labels, preds):
        if not isinstance(labels, (list, tuple)):
            labels, preds = [labels], [preds]
        if len(labels) != len(preds):
            raise ValueError("%s: %d labels for %d predictions" % (self.name, len(labels), len(preds)))
        for label, pred in zip(labels, preds):
            self._update(np.asarray(label), np.asarray(pred))

    def __repr__(self):
        return "EvalMetric: %s" % dict(self.get_name_value())


class Accuracy(EvalMetric):
    """Fraction of samples whose argmax prediction equals the label."""
    def __init__(self, axis=1, name="accuracy", **kw):
        self.axis = axis
        super().__init__(name, **kw)

    def _update(self, label, pred):
        if pred.shape != label.shape:
            pred = pred.argmax(axis=self.axis)
        label = label.astype(np.int64).ravel()
        pred = pred.astype(np.int64).ravel()
        self.sum_metric += float((pred == label).sum())
        self.num_inst += len(label)


class TopKAccuracy(EvalMetric):
    """Fraction of samples whose label is among the ``top_k`` highest predictions."""
    def __init__(self, top_k=1, name="top_k_accuracy", **kw):
        self.top_k = top_k
        super().__init__("%s_%d" % (name, top_k), **kw)

    def _update(self, label, pred):
        top = np.argsort(pred, axis=1)[:, -self.top_k:]
        label = label.astype(np.int64).reshape(-1, 1)
        self.sum_metric += float((top == label).any(axis=1).sum())
        self.num_inst += len(label)


class CrossEntropy(EvalMetric):
    """Mean of -log(p[label])."""
    def __init__(self, eps=1e-12, name="cross-entropy", **kw):
        self.eps = eps
        super().__init__(name, **kw)

    def _update(self, label, pred):
        label = label.astype(np.int64).ravel()
        p = pred.reshape(len(label), -1)[np.arange(len(label)), label]
        self.sum_metric += float(-np.log(p + self.eps).sum())
        self.num_inst += len(label)


class _Regression(EvalMetric):
    def _update(self, label, pred):
        if label.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1:
            label = label.reshape(-1, 1)
        self.sum_metric += self._value(label.astype(np.float64), pred.astype(np.float64))
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
        return float(np.abs(label - pred).mean())


class RMSE(_Regression):
    """Root mean squared error (averaged per batch)."""
    def __init__(self, name="rmse", **kw):
        super().__init__(name, **kw)

    def _value(self, label, pred):
        return float(np.sqrt(((label - pred) ** 2).mean()))


class Loss(EvalMetric):
    """Mean of the outputs themselves (for MakeLoss heads): labels are ignored."""
    def __init__(self, name="loss", **kw):
        super().__init__(name, **kw)

    def update(self, labels, preds):
        for pred in (preds if isinstance(preds, (list, tuple)) else [preds]):
            pred = np.asarray(pred)
            self.sum_metric += float(pred.sum())
            self.num_inst += pred.size


class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together."""
    def __init__(self, metrics=None, name="composite", **kw):
        self.metrics = [create(m) for m in (metrics or [])]
        super().__init__(name, **kw)

    def add(self, metric):
        """Add one more metric (an instance or a name)."""
        self.metrics.append(create(metric))

    def reset(self):
        for m in getattr(self, "metrics", []):
            m.reset()

    def reset_local(self):
        for m in self.metrics:
            m.reset_local()

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


_NAMES = {"acc": Accuracy, "accuracy": Accuracy, "top_k_accuracy": TopKAccuracy,
          "top_k_acc": TopKAccuracy, "ce": CrossEntropy, "cross-entropy": CrossEntropy,
          "mse": MSE, "mae": MAE, "rmse": RMSE, "loss": Loss}


def create(metric, **kwargs) -> EvalMetric:
    """A metric from a name ('acc', 'ce', 'mse', ...), a list of them, or an instance."""
    if isinstance(metric, EvalMetric):
        return metric
    if isinstance(metric, (list, tuple)):
        return CompositeEvalMetric(list(metric))
    cls = _NAMES.get(str(metric).lower())
    if cls is None:
        raise ValueError("unknown metric %r; known: %s" % (metric, ", ".join(sorted(_NAMES))))
    return cls(**kwargs)


__all__ = ["EvalMetric", "Accuracy", "TopKAccuracy", "CrossEntropy", "MSE", "MAE", "RMSE",
           "Loss", "CompositeEvalMetric", "create"]
