"""Dropout, with MXNet 1.9.1's semantics and symnorm's random state."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import random as _random
from ..core.dims import same_shape_backward
from ..core.params import Shape, param, in_range
from ..core.registry import Op, Result, register


@register
class Dropout(Op):
    """Training (or mode='always'): zero each element with probability p and scale the rest
    by 1/(1-p); backward applies the same mask.  Inference: the identity.  ``axes`` share
    one mask value along those axes (variational dropout).  Reproducible with
    ``symnorm.random.seed``."""
    outputs = ("output", "mask")
    no_grad_outputs = ("mask",)
    p: float = param(0.5, check=in_range(0.0, 1.0), doc="drop probability")
    mode: str = param("training", choices=("training", "always"))
    axes: Shape = param((), doc="axes sharing one mask value")
    cudnn_off: Optional[bool] = param(False, doc="accepted for MXNet compatibility; ignored")

    def deterministic(self):
        return False            # a fresh random mask per node

    def num_visible_outputs(self):
        return 1

    def infer_shape(self, data):
        if data is None:
            return None
        return (data,), (data, data)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)

    def forward(self, data, *, train):
        if (not train and self.mode != "always") or self.p == 0:
            return Result((data, np.ones_like(data)), saved=None)
        shape = tuple(1 if i in self.axes else d for i, d in enumerate(data.shape))
        keep = _random.generator().random(shape, dtype=np.float64) >= self.p
        # p = 1 drops everything: zeros (MXNet 1.9.1 computes 0 * inf = NaN)
        scale = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
        mask = keep.astype(data.dtype) * data.dtype.type(scale)
        return Result((data * mask, np.broadcast_to(mask, data.shape)), saved=mask)

    def backward(self, mask, dy):
        return (dy if mask is None else dy * mask,)

    @classmethod
    def examples(cls):
        yield {"p": 0.0}, {"data": (3, 4)}
