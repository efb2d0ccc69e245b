"""Correlation metrics (``mx.metric.PearsonCorrelation``, ``mx.metric.PCC``), in their own
module only to keep ``metric.py`` short; ``metric`` imports and registers them."""
from __future__ import annotations

import math

import numpy

from ..core.dtype import int_labels
from .metric import EvalMetric, _check_counts


def _moments(x, y) -> numpy.ndarray:
    """[n, mean x, mean y, Σ(x-x̄)², Σ(y-ȳ)², Σ(x-x̄)(y-ȳ)] of one batch."""
    mx_, my_ = x.mean(), y.mean()
    dx, dy = x - mx_, y - my_
    return numpy.array([len(x), mx_, my_, dx @ dx, dy @ dy, dx @ dy])


def _merge(a, b) -> numpy.ndarray:
    """The moments of two batches together (Chan et al.'s pairwise update: exact, and
    without the cancellation of raw sums of squares)."""
    if not a[0]:
        return b.copy()
    n = a[0] + b[0]
    dx, dy = b[1] - a[1], b[2] - a[2]
    w = a[0] * b[0] / n
    return numpy.array([n, a[1] + dx * b[0] / n, a[2] + dy * b[0] / n,
                        a[3] + b[3] + dx * dx * w, a[4] + b[4] + dy * dy * w,
                        a[5] + b[5] + dx * dy * w])


def _pearson(m) -> float:
    return float(m[5] / math.sqrt(m[3] * m[4])) if m[3] * m[4] > 0 else float("nan")


class PearsonCorrelation(EvalMetric):
    """Pearson's r of predictions and labels (flattened).  ``average='macro'`` (MXNet's
    default): the r of each update, averaged over updates; ``'micro'``: the r of all the
    values seen together (since ``reset_local`` for ``get``, since ``reset`` for
    ``get_global``); ``num_inst`` counts updates either way, as in MXNet 1.9.1."""
    def __init__(self, name="pearsonr", output_names=None, label_names=None, average="macro"):
        if average not in ("macro", "micro"):
            raise ValueError("PearsonCorrelation: average must be 'macro' or 'micro', got %r"
                             % (average,))
        self.average = average
        # (not in get_config: MXNet 1.9.1 leaves average out of it too)
        super().__init__(name, output_names=output_names, label_names=label_names)

    def reset(self):
        super().reset()
        self._local = numpy.zeros(6)
        self._global = numpy.zeros(6)

    def reset_local(self):
        super().reset_local()
        self._local = numpy.zeros(6)

    def _update(self, label, pred):
        label = label.ravel().astype(numpy.float64)
        pred = pred.ravel().astype(numpy.float64)
        if label.shape != pred.shape:
            raise ValueError("%s: %d predictions for %d labels" % (self.name, pred.size, label.size))
        self.num_inst += 1
        if self.average == "macro":
            self.sum_metric += float(numpy.corrcoef(pred, label)[0, 1])
            return
        batch = _moments(pred, label)
        self._local = _merge(self._local, batch)
        self._global = _merge(self._global, batch)

    def _reduce(self, allreduce_sum):
        super()._reduce(allreduce_sum)
        for key in ("_local", "_global"):
            # raw sums add across ranks; the moments do not
            n, mx_, my_, sxx, syy, sxy = getattr(self, key)
            raw = numpy.array([n, n * mx_, n * my_, sxx + n * mx_ * mx_, syy + n * my_ * my_,
                               sxy + n * mx_ * my_])
            allreduce_sum(raw)
            n = raw[0]
            if n:
                mx_, my_ = raw[1] / n, raw[2] / n
                raw = numpy.array([n, mx_, my_, raw[3] - n * mx_ * mx_, raw[4] - n * my_ * my_,
                                   raw[5] - n * mx_ * my_])
            setattr(self, key, raw)

    def get(self):
        if self.average == "micro":
            return self.name, _pearson(self._local) if self.num_inst else float("nan")
        return super().get()

    def get_global(self):
        if self.average == "micro":
            seen = self.num_inst + self._earlier[1]
            return self.name, _pearson(self._global) if seen else float("nan")
        return super().get_global()


def _pcc(cm) -> float:
    """Multiclass Matthews correlation (Gorodkin's R_K) of a confusion matrix."""
    n = cm.sum()
    x, y = cm.sum(axis=1), cm.sum(axis=0)
    cov_xx, cov_yy = numpy.sum(x * (n - x)), numpy.sum(y * (n - y))
    if cov_xx == 0 or cov_yy == 0:
        return float("nan")
    return float(numpy.sum(cm.diagonal() * n - x * y) / math.sqrt(cov_xx * cov_yy))


class PCC(EvalMetric):
    """Multiclass Matthews correlation coefficient (Pearson's r of one-hot predictions and
    labels): (n·Σc_kk - Σ_k p_k·t_k) / sqrt((n² - Σp_k²)(n² - Σt_k²)) over the confusion
    matrix of everything since ``reset_local`` (``get``) or ``reset`` (``get_global``);
    predictions are class scores (argmax taken) or class indices.  Equals MCC for two
    classes.  ``num_inst`` counts updates, as in MXNet 1.9.1."""
    def __init__(self, name="pcc", output_names=None, label_names=None, has_global_stats=True):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def reset(self):
        super().reset()
        self._local = numpy.zeros((2, 2))
        self._global = numpy.zeros((2, 2))

    def reset_local(self):
        super().reset_local()
        self._local = numpy.zeros(self._global.shape)

    def _grow(self, k):
        if k > len(self._global):
            pad = ((0, k - len(self._global)),) * 2
            self._local = numpy.pad(self._local, pad)
            self._global = numpy.pad(self._global, pad)

    def update(self, labels, preds):
        if not isinstance(labels, (list, tuple)):
            labels, preds = [labels], [preds]
        _check_counts(self.name, labels, preds)
        for label, pred in zip(labels, preds):
            label = int_labels(label, "%s: label" % self.name).ravel()
            pred = numpy.asarray(pred)
            pred = pred.argmax(axis=1) if pred.shape != label.shape and pred.ndim > 1 \
                else int_labels(pred, "%s: prediction" % self.name)
            pred = pred.ravel()
            if pred.shape != label.shape:
                raise ValueError("%s: %d predictions for %d labels" % (self.name, pred.size, label.size))
            if label.size and min(label.min(), pred.min()) < 0:
                raise ValueError("%s: class indices must be >= 0" % self.name)
            self._grow(int(max(label.max(), pred.max())) + 1 if label.size else 0)
            batch = numpy.zeros(self._global.shape)
            numpy.add.at(batch, (pred, label), 1)
            self._local += batch
            self._global += batch
        self.num_inst += 1

    def _reduce(self, allreduce_sum):
        super()._reduce(allreduce_sum)
        # ranks may have seen different numbers of classes: pad all to the sum of the
        # sizes (at least the largest; zero rows and columns change nothing)
        k = numpy.array([len(self._global)], numpy.float64)
        allreduce_sum(k)
        self._grow(int(k[0]))
        allreduce_sum(self._local)
        allreduce_sum(self._global)

    def get(self):
        return self.name, _pcc(self._local) if self.num_inst else float("nan")

    def get_global(self):
        seen = self.num_inst + self._earlier[1]
        return self.name, _pcc(self._global) if seen else float("nan")


__all__ = ["PearsonCorrelation", "PCC"]
