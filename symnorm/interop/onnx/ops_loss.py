"""Export of loss heads and gradient markers as their inference forward (the prediction)."""
from __future__ import annotations

import numpy as np

from .tables import table

CONVERTERS, converts = table()

# op name -> predicate(op): exports import cannot read back (SoftmaxCrossEntropyLoss)
ONE_WAY = {"softmax_cross_entropy": lambda op: True}


@converts("SoftmaxOutput")
def softmax_output(ctx, node, ins):
    """The prediction: softmax over axis 1 (multi_output), the last axis (preserve_shape),
    or over everything but the batch axis (the default, data viewed as (N, -1))."""
    op = node.op
    x = ins[0]
    ndim = len(ctx.in_shape(0))
    if ndim <= 2:
        return [ctx.add1("Softmax", [x], axis=-1 if ndim == 2 else 0)]
    if op.multi_output:
        return [ctx.add1("Softmax", [x], axis=1)]
    if op.preserve_shape:
        return [ctx.add1("Softmax", [x], axis=-1)]
    y = ctx.add1("Softmax", [ctx.add1("Flatten", [x], axis=1)], axis=1)
    return [ctx.reshape_as(y, x)]


@converts("LinearRegressionOutput", "MAERegressionOutput", "BlockGrad", "MakeLoss", "make_loss",
          "_identity_with_attr_like_rhs")
def identity(ctx, node, ins):
    """Their forward is the data itself (the like-rhs identity ignores rhs); only gradients
    differ."""
    return [ctx.add1("Identity", [ins[0]])]


@converts("LogisticRegressionOutput")
def logistic(ctx, node, ins):
    return [ctx.add1("Sigmoid", [ins[0]])]


@converts("softmax_cross_entropy")
def softmax_cross_entropy(ctx, node, ins):
    """The summed cross-entropy of softmax(data) against integer labels, shape (1,)."""
    label = ctx.cast(ins[1], np.int64)
    loss = ctx.add1("SoftmaxCrossEntropyLoss", [ins[0], label], reduction="sum")
    return [ctx.unsqueeze(loss, [0])]
