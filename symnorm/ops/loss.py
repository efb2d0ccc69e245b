"""Losses.  The loss heads (SoftmaxOutput, the regression outputs) make the gradient
themselves and ignore head gradients; softmax_cross_entropy is an ordinary op whose
gradient the head gradient scales.  No label input receives a gradient (MXNet's semantics)."""
from __future__ import annotations

import numpy as np

from ..core.dims import prod, same_shape_backward
from ..core.dtype import int_labels
from ..core.errors import ShapeError, fmt_shape
from ..core.params import param, in_range
from ..core.registry import Op, Result, register
from .activation import _softmax


@register
class SoftmaxOutput(Op):
    """Softmax forward, cross-entropy gradient backward.

    Forward: softmax over axis 1 (``multi_output``: axis 1 of (N, C, ...); otherwise the
    data is viewed as (N, prod(rest)); ``preserve_shape``: over the last axis).
    Backward: ``grad_scale * (p - onehot(label))``, ignoring any head gradient (unless
    ``out_grad``); labels are truncated to int; ``use_ignore`` zeroes rows whose label is
    ``ignore_label``; normalization 'batch' divides by N, 'valid' by the number of labels
    that are not ignored; ``smooth_alpha`` spreads that much target mass over the other
    classes.  A label outside [0, K) is an error (MXNet silently treats it as no class).
    A label of the data's shape holds class probabilities: backward is
    ``grad_scale * (p - label)``.
    """
    inputs = ("data", "label")
    no_grad_inputs = ("label",)
    head_grad = "ignore"
    aliases = ("Softmax",)
    input_range = {"label": (0.0, 2.99)}
    grad_scale: float = param(1.0)
    ignore_label: float = param(-1.0)
    multi_output: bool = param(False)
    use_ignore: bool = param(False)
    preserve_shape: bool = param(False)
    normalization: str = param("null", choices=("null", "batch", "valid"))
    out_grad: bool = param(False)
    smooth_alpha: float = param(0.0, check=in_range(0.0, 1.0))

    def infer_shape(self, data, label):
        if data is None:
            return None
        if len(data) < (2 if self.multi_output else 1):
            raise ShapeError("data must be at least %d-d%s, got %s"
                             % (2 if self.multi_output else 1,
                                " with multi_output" if self.multi_output else "", fmt_shape(data)))
        if self.multi_output:
            lab = (data[0], prod(data[2:]))
        elif self.preserve_shape:
            lab = tuple(data[:-1])
        else:
            lab = (data[0],)
        if label is not None and len(label) != len(lab) and prod(label) == prod(lab):
            lab = tuple(label)          # a label given in an equivalent layout is accepted
        if label is not None and tuple(label) == tuple(data):
            lab = tuple(data)           # probabilities per class (MXNet: "soft" labels)
        return (data, lab), (data,)

    shape_back = {"data": (0,)}

    def infer_shape_backward(self, ins, outs):
        # data has the output's shape; a (N,) label gives the batch dim
        data, label = ins
        if outs[0] is not None:
            data = outs[0]
        if data is None:
            return None
        if (not self.multi_output and not self.preserve_shape and label is not None
                and len(label) == 1 and data and data[0] is None):
            data = (label[0],) + tuple(data[1:])
        return (tuple(data), None)

    def _axis_view(self, x):
        if self.multi_output:
            return x.reshape(x.shape[0], x.shape[1], -1), 1
        if self.preserve_shape:
            return x, x.ndim - 1
        return x.reshape(x.shape[0], -1), 1

    def forward(self, data, label, *, train):
        x, axis = self._axis_view(data)
        p = _softmax(x, axis)
        return Result((p.reshape(data.shape),), saved=(p, label, axis, data.shape))

    def backward(self, saved, dy=None):
        p, label, axis, shape = saved
        if label.shape == tuple(shape):
            # a label shaped like the data holds class probabilities: grad_scale * (p - label),
            # with no ignore, smoothing or normalization (as MXNet)
            g = (p.reshape(shape) - label.astype(p.dtype)) * p.dtype.type(self.grad_scale)
            return (g * dy if self.out_grad and dy is not None else g), None
        k = p.shape[axis]
        lab = int_labels(label.reshape(p.shape[:axis] + p.shape[axis + 1:]), "label")
        ignored = (lab == int(self.ignore_label)) if self.use_ignore else np.zeros(lab.shape, bool)
        bad = ~ignored & ((lab < 0) | (lab >= k))
        if bad.any():
            raise ValueError("label %d is outside [0, %d) (the number of classes)"
                             % (lab[bad].flat[0], k))
        safe = np.where(ignored, 0, lab)
        target = np.zeros_like(p)
        if self.smooth_alpha:
            target += self.smooth_alpha / (k - 1)
            hit = 1.0 - self.smooth_alpha
        else:
            hit = 1.0
        np.put_along_axis(target, np.expand_dims(safe, axis), hit, axis=axis)
        g = p - target
        if self.use_ignore:
            g *= np.expand_dims(~ignored, axis)
        scale = self.grad_scale
        if self.normalization == "batch":
            scale /= shape[0]
        elif self.normalization == "valid":
            scale /= max(int(np.count_nonzero(~ignored)), 1)
        g *= g.dtype.type(scale)
        g = g.reshape(shape)
        if self.out_grad and dy is not None:
            g *= dy
        return g, None

    @classmethod
    def examples(cls):
        yield {"normalization": "batch"}, {"data": (4, 5)}
        yield {"multi_output": True, "normalization": "valid"}, {"data": (2, 3, 2, 2)}


class _Regression(Op):
    """out = f(data); backward sends grad_scale * (out - label) / (elements per sample)."""
    inputs = ("data", "label")
    no_grad_inputs = ("label",)
    head_grad = "ignore"
    grad_scale: float = param(1.0)

    def infer_shape(self, data, label):
        if data is None:
            return None
        lab = data if label is None or prod(label) != prod(data) else label
        return (data, lab), (data,)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)

    def forward(self, data, label, *, train):
        y = self.fn(data)
        return Result((y,), saved=(y, label))

    def backward(self, saved, dy=None):
        y, label = saved
        per_sample = y.size // y.shape[0] if y.ndim else 1
        g = self.grad(y, label.reshape(y.shape)) * (self.grad_scale / per_sample)
        return g.astype(y.dtype), None

    @classmethod
    def examples(cls):
        yield {}, {"data": (4, 3)}


@register
class LinearRegressionOutput(_Regression):
    """out = data; gradient (out - label) * grad_scale / d (squared loss / 2)."""
    fn = staticmethod(lambda x: x.copy())
    grad = staticmethod(lambda y, t: y - t)


@register
class LogisticRegressionOutput(_Regression):
    """out = sigmoid(data); gradient (out - label) * grad_scale / d (logistic loss)."""
    fn = staticmethod(lambda x: 1 / (1 + np.exp(-x)))
    grad = staticmethod(lambda y, t: y - t)


@register
class MAERegressionOutput(_Regression):
    """out = data; gradient sign(out - label) * grad_scale / d (absolute loss)."""
    fn = staticmethod(lambda x: x.copy())
    grad = staticmethod(lambda y, t: np.sign(y - t))


@register
class softmax_cross_entropy(Op):
    """out = Σ_i -log softmax(data_i)[label_i], a scalar of shape (1,); the label gets no
    gradient.  d/ddata = softmax(data) - onehot(label), scaled by the head gradient."""
    inputs = ("data", "label")
    no_grad_inputs = ("label",)
    input_range = {"label": (0, 2.99)}

    def infer_shape(self, data, label):
        if data is None:
            return None
        if len(data) != 2:
            raise ShapeError("softmax_cross_entropy takes 2-d data (batch, classes), got %s"
                             % (tuple(data),))
        return (data, (data[0],)), ((1,),)

    def forward(self, data, label, *, train):
        z = data - data.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        idx = int_labels(label, "label")
        if idx.size and (idx.min() < 0 or idx.max() >= data.shape[1]):
            raise ValueError("label %d is outside [0, %d) (the number of classes)"
                             % (idx[(idx < 0) | (idx >= data.shape[1])][0], data.shape[1]))
        loss = -logp[np.arange(len(idx)), idx].sum()
        return Result((np.array([loss], data.dtype),), None, (logp, idx))

    def backward(self, saved, dy):
        logp, idx = saved
        g = np.exp(logp)
        g[np.arange(len(idx)), idx] -= 1
        return g * dy.reshape(()), None

    @classmethod
    def examples(cls):
        yield {}, {"data": (4, 3)}
