"""Kernels of FullyConnected, transpose and Concat: matrix products cut into pieces for
the thread pool (``parallel.matmul``), bias gradients through BLAS, the blocked copy that
moves the last axis first (a batch-last region's exit), and Concat inside batch-last
regions."""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import parallel
from ...core.registry import Result
from ...ops.dense import FullyConnected
from ...ops.tensor import Concat, transpose
from .blas import channel_sum, last_axis_first
from .registry import kernel


@kernel(FullyConnected, fresh_outputs=True, keeps_output=False)
def fully_connected(op, ctx, data, weight, bias=None, *, train):
    """y = x·Wᵀ + b with the product split over the pool (saves x and W, not y)."""
    x2 = op.as_2d(data)
    y = parallel.matmul(x2, weight.T)
    if bias is not None:
        y += bias
    return Result((y.reshape(op.output_shape(data.shape)),), saved=(x2, weight, data.shape))


@fully_connected.backward
def fully_connected_backward(op, ctx, saved, dy):
    x2, w, shape = saved
    dy2 = dy.reshape(-1, op.num_hidden)
    dx = parallel.matmul(dy2, w).reshape(shape)
    dw = parallel.matmul(dy2.T, x2)
    if op.no_bias:
        return dx, dw
    return dx, dw, channel_sum(dy2.reshape(dy2.shape[0], -1, 1))


def _permuted(x, perm):
    """x.transpose(perm) as a new C-contiguous array; moving the last axis to the front (a
    batch-last region's exit, its entry's gradient) takes the blocked copy."""
    n = x.ndim
    if n >= 2 and tuple(perm) == (n - 1,) + tuple(range(n - 1)):
        return last_axis_first(x)
    return x.transpose(perm).copy(order="C")


@kernel(transpose, fresh_outputs=True, keeps_output=False)
def transpose_blocked(op, ctx, data, *, train):
    return Result((_permuted(data, op.perm(data.ndim)),))


@transpose_blocked.backward
def transpose_blocked_backward(op, ctx, saved, dy):
    return (_permuted(dy, tuple(np.argsort(op.perm(dy.ndim)))),)


def _concat_batch_last(op, layout, in_shapes):
    """The Concat of the same inputs stored (C, *S, N): along the axis ``dim`` moved to."""
    ndim = len(in_shapes[0])
    d = op.dim % ndim               # valid: shape inference has checked it
    return dataclasses.replace(op, dim=d - 1 if d else ndim - 1)


@kernel(Concat, layout="batch_last", prepare=_concat_batch_last,
        layout_slots=lambda op: (op.arguments(), op.outputs))
def concat_batch_last(moved, ctx, *data, train):
    return moved.forward(*data, train=train)


@concat_batch_last.backward
def concat_batch_last_backward(moved, ctx, saved, dy):
    return moved.backward(saved, dy)
