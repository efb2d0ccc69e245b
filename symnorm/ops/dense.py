"""Dense layers and products: FullyConnected, Embedding, dot and batch_dot (MXNet 1.9.1 names)."""
from __future__ import annotations

import numpy as np

from ..core.dims import fill_one, merge, prod
from ..core.dtype import int_labels
from ..core.errors import DataError, ShapeError
from ..core.params import param, positive
from ..core.registry import Op, Result, register


# ============================================================ FullyConnected

@register
class FullyConnected(Op):
    """y = x · Wᵀ + b with W of shape (num_hidden, in).

    ``flatten=True`` first reshapes x to (N, prod(rest)); ``flatten=False`` applies the
    layer to the last axis, keeping the others: (2, 3, 4) -> (2, 3, num_hidden)."""
    summary_params = True
    inputs = ("data", "weight", "bias")
    color = "#fb8072"
    num_hidden: int = param(doc="number of output units", check=positive)
    no_bias: bool = param(False, doc="drop the bias input")
    flatten: bool = param(True, doc="collapse all but the first axis")

    def arguments(self):
        return ("data", "weight") if self.no_bias else self.inputs

    def infer_shape(self, data, weight, bias=None):
        if data is None:
            return None
        if not data:
            raise ShapeError("FullyConnected needs at least a 1-d input, got ()")
        if self.flatten:
            in_dim = prod(data[1:])
            out = (data[0], self.num_hidden)
        else:
            in_dim = data[-1]
            out = tuple(data[:-1]) + (self.num_hidden,)
        shapes = (data, (self.num_hidden, in_dim)) + (() if self.no_bias else ((self.num_hidden,),))
        return shapes, (out,)

    shape_back = {"data": (0,)}

    def infer_shape_backward(self, ins, outs):
        # the output gives data's batch dim(s); the weight gives its (flattened) feature size
        data, weight, out = ins[0], ins[1], outs[0]
        in_dim = None if weight is None or len(weight) != 2 else weight[1]
        if self.flatten:
            if data is None or out is None or len(out) != 2:
                return None
            new = fill_one(data[1:], in_dim) if len(data) > 1 else ()
            new = (out[0],) + tuple(new)
        else:
            if out is None:
                return None
            last = data[-1] if data is not None and data[-1] is not None else in_dim
            new = tuple(out[:-1]) + (last,)
        return (new,) + (None,) * (len(ins) - 1)

    def as_2d(self, x):
        """The data as the (rows, features) matrix the layer multiplies."""
        return x.reshape(x.shape[0], -1) if self.flatten else x.reshape(-1, x.shape[-1])

    def output_shape(self, shape):
        return (shape[0], self.num_hidden) if self.flatten else shape[:-1] + (self.num_hidden,)

    def forward(self, data, weight, bias=None, *, train):
        x2 = self.as_2d(data)
        y = x2 @ weight.T
        if bias is not None:
            y += bias
        return Result((y.reshape(self.output_shape(data.shape)),), saved=(x2, weight, data.shape))

    def backward(self, saved, dy):
        # dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy
        x2, w, shape = saved
        dy2 = dy.reshape(-1, self.num_hidden)
        dx = (dy2 @ w).reshape(shape)
        dw = dy2.T @ x2
        if self.no_bias:
            return dx, dw
        return dx, dw, dy2.sum(axis=0)

    def label(self, node_name):
        return "FullyConnected\n%d" % self.num_hidden

    @classmethod
    def examples(cls):
        yield {"num_hidden": 4}, {"data": (3, 2, 5)}
        yield {"num_hidden": 3, "flatten": False, "no_bias": True}, {"data": (2, 3, 5)}


# ============================================================ Embedding and products

@register
class Embedding(Op):
    """out[..., :] = weight[data[...]] with weight (input_dim, output_dim); the index input
    gets no gradient."""
    summary_params = True
    inputs = ("data", "weight")
    no_grad_inputs = ("data",)
    input_range = {"data": (0, 4.99)}        # indices for the example's input_dim=5
    input_dim: int = param(check=lambda v: None if v > 0 else "must be > 0")
    output_dim: int = param(check=lambda v: None if v > 0 else "must be > 0")
    dtype: str = param("float32", doc="dtype of the weight")
    sparse_grad: bool = param(False, doc="accepted for MXNet compatibility; ignored")

    def infer_shape(self, data, weight):
        if data is None:
            return None
        return (data, (self.input_dim, self.output_dim)), (tuple(data) + (self.output_dim,),)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        return None if not out else (tuple(out[:-1]), None)

    def infer_type(self, data, weight):
        # ``dtype`` decides the weight's type unless the weight's own type is known
        w = weight if weight is not None else np.dtype(self.dtype)
        return (data if data is not None else w, w), (w,)

    def forward(self, data, weight, *, train):
        idx = int_labels(data, "Embedding index")
        if idx.size and (idx.min() < 0 or idx.max() >= self.input_dim):
            # MXNet clips such an index to the nearest row: a silent wrong lookup
            bad = idx[(idx < 0) | (idx >= self.input_dim)].flat[0]
            raise DataError("index %d is out of range [0, %d) (input_dim); MXNet "
                            "would silently clip it to row %d" % (bad, self.input_dim,
                                                                  min(max(bad, 0), self.input_dim - 1)))
        return Result((weight[idx],), None, (idx, weight.shape))

    def backward(self, saved, dy):
        idx, wshape = saved
        dw = np.zeros(wshape, dy.dtype)
        np.add.at(dw, idx.reshape(-1), dy.reshape(-1, wshape[1]))
        return None, dw

    @classmethod
    def examples(cls):
        yield {"input_dim": 5, "output_dim": 3}, {"data": (2, 4)}


@register
class dot(Op):
    """out = Σ_k a[..., k] · b[k, ...]: the last axis of a with the first of b, the other
    axes in order.  ``transpose_a`` contracts lhs's *first* axis instead
    (a = moveaxis(lhs, 0, -1)) and ``transpose_b`` rhs's *last* (b = moveaxis(rhs, -1, 0)),
    as MXNet reads an N-d operand as a matrix; two vectors give shape (1,), never 0-d,
    and cannot be transposed."""
    inputs = ("lhs", "rhs")
    transpose_a: bool = param(False)
    transpose_b: bool = param(False)

    def _ops(self, a, b):
        return (np.moveaxis(a, 0, -1) if self.transpose_a else a), \
            (np.moveaxis(b, -1, 0) if self.transpose_b else b)

    def infer_shape(self, lhs, rhs):
        # partial shapes give partial results: (?, 3, 4) . (4, 5) -> (?, 3, 5), as MXNet
        if lhs is None or rhs is None:
            return None
        if not lhs or not rhs:
            raise ShapeError("dot needs operands of at least 1 dim, got %s and %s" % (lhs, rhs))
        vectors = len(lhs) == 1 and len(rhs) == 1
        if vectors and (self.transpose_a or self.transpose_b):
            raise ShapeError("dot: cannot transpose vectors (lhs %s, rhs %s)" % (lhs, rhs))
        a = tuple(lhs[1:]) + tuple(lhs[:1]) if self.transpose_a else tuple(lhs)
        b = tuple(rhs[-1:]) + tuple(rhs[:-1]) if self.transpose_b else tuple(rhs)
        try:
            k = merge((a[-1],), (b[0],))
        except ShapeError:
            raise ShapeError("dot: inner dims differ, %s x %s" % (a, b)) from None
        a, b = a[:-1] + k, k + b[1:]
        lhs = a[-1:] + a[:-1] if self.transpose_a else a
        rhs = b[1:] + b[:1] if self.transpose_b else b
        return (lhs, rhs), ((1,) if vectors else tuple(a[:-1]) + tuple(b[1:]),)

    def shape_back_axes(self):
        return {"lhs": (1 if self.transpose_a else 0,), "rhs": (-2 if self.transpose_b else -1,)}

    def infer_shape_backward(self, ins, outs):
        # the output is a's outer dims then b's: each operand gets its share back
        lhs, rhs = ins
        out = outs[0]
        if out is None or lhs is None or rhs is None:
            return None
        na, nb = len(lhs) - 1, len(rhs) - 1
        if na + nb == 0:
            return None                 # two vectors: the (1,) output says nothing of them
        if len(out) != na + nb:
            raise ShapeError("dot: output %s does not have rank %d + %d" % (out, na, nb))
        a = tuple(out[:na]) + (None,)
        b = (None,) + tuple(out[na:])
        return (a[-1:] + a[:-1] if self.transpose_a else a,
                b[1:] + b[:1] if self.transpose_b else b)

    def forward(self, lhs, rhs, *, train):
        a, b = self._ops(lhs, rhs)
        out = np.tensordot(a, b, axes=1)
        return Result((out.reshape(1) if out.ndim == 0 else out,), None, (lhs, rhs))

    def backward(self, saved, dy):
        lhs, rhs = saved
        a, b = self._ops(lhs, rhs)
        a2 = a.reshape(-1, a.shape[-1])
        b2 = b.reshape(b.shape[0], -1)
        dy2 = dy.reshape(a2.shape[0], b2.shape[1])
        da = (dy2 @ b2.T).reshape(a.shape)
        db = (a2.T @ dy2).reshape(b.shape)
        return (np.moveaxis(da, -1, 0) if self.transpose_a else da), \
            (np.moveaxis(db, 0, -1) if self.transpose_b else db)

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (2, 3), "rhs": (3, 4)}
        yield {"transpose_b": True}, {"lhs": (2, 3), "rhs": (4, 3)}


@register
class batch_dot(Op):
    """Batched matrix product: out[i] = lhs[i] · rhs[i] (optionally transposed)."""
    inputs = ("lhs", "rhs")
    transpose_a: bool = param(False)
    transpose_b: bool = param(False)

    def _dims(self, lhs, rhs):
        """(B, n, k, m) of partial operand shapes; ShapeError when they cannot agree."""
        if len(lhs) != 3 or len(rhs) != 3:
            raise ShapeError("batch_dot needs (B, n, k) and (B, k, m), got %s and %s" % (lhs, rhs))
        n, k = (lhs[2], lhs[1]) if self.transpose_a else (lhs[1], lhs[2])
        k2, m = (rhs[2], rhs[1]) if self.transpose_b else (rhs[1], rhs[2])
        try:
            (b,) = merge((lhs[0],), (rhs[0],))
            (k,) = merge((k,), (k2,))
        except ShapeError:
            raise ShapeError("batch_dot needs (B, n, k) and (B, k, m), got %s and %s"
                             % (lhs, rhs)) from None
        return b, n, k, m

    def _operands(self, b, n, k, m):
        return ((b, k, n) if self.transpose_a else (b, n, k),
                (b, m, k) if self.transpose_b else (b, k, m))

    def infer_shape(self, lhs, rhs):
        # partial shapes give partial results: (?, 3, 4) x (?, 4, 5) -> (?, 3, 5), as MXNet
        if lhs is None or rhs is None:
            return None
        b, n, k, m = self._dims(lhs, rhs)
        if None in (lhs[1 if self.transpose_a else 2], rhs[2 if self.transpose_b else 1]):
            # MXNet infers nothing until both operands' inner dims are known (its
            # test_batch_dot_partial_shape holds it), though one would decide the other
            return None
        return self._operands(b, n, k, m), ((b, n, m),)

    def shape_back_axes(self):
        # batch, and n of lhs / m of rhs (where they sit depends on the transposes)
        return {"lhs": (0, 2 if self.transpose_a else 1), "rhs": (0, 1 if self.transpose_b else 2)}

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        if out is None:
            return None
        if len(out) != 3:
            raise ShapeError("batch_dot: output %s is not 3-d" % (out,))
        return self._operands(out[0], out[1], None, out[2])

    def forward(self, lhs, rhs, *, train):
        a = lhs.transpose(0, 2, 1) if self.transpose_a else lhs
        b = rhs.transpose(0, 2, 1) if self.transpose_b else rhs
        return Result((np.matmul(a, b),), None, (a, b))

    def backward(self, saved, dy):
        a, b = saved
        da = np.matmul(dy, b.transpose(0, 2, 1))
        db = np.matmul(a.transpose(0, 2, 1), dy)
        return (da.transpose(0, 2, 1) if self.transpose_a else da,
                db.transpose(0, 2, 1) if self.transpose_b else db)

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (2, 3, 4), "rhs": (2, 4, 5)}
        yield {"transpose_a": True, "transpose_b": True}, {"lhs": (2, 4, 3), "rhs": (2, 5, 4)}
