"""Dense, convolution, pooling, activations and dropout, with MXNet 1.9.1's semantics.

Convolution is lowered to one BLAS matrix product per group (im2col through strided
windows, no Python loop over pixels or channels; 1x1 stride-1 convolutions use their input
as the columns, depthwise ones weight stacked windows in one einsum, thin products are cut
into batched pieces); pooling reads strided windows; backward scatters with one strided
slice-add per kernel offset.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import Optional

import numpy as np

from ..runtime import parallel
from .. import random as _random
from ..core.dims import dim_op, known, prod
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param, in_range, all_positive, all_non_negative
from ..core.registry import Op, Result, register
from ._np import (channel_sum, copy_runs, elementwise, last_axis_first, matmul_nt, matmul_wide, padded, recycled_empty, row_sums, sigmoid, workspace, workspace_filled)


def _positive_int(v):
    return None if v > 0 else "must be > 0"


# ============================================================ FullyConnected

@register
class FullyConnected(Op):
    """y = x · Wᵀ + b with W of shape (num_hidden, in).

    ``flatten=True`` first reshapes x to (N, prod(rest)); ``flatten=False`` applies the
    layer to the last axis, keeping the others: (2, 3, 4) -> (2, 3, num_hidden)."""
    summary_params = True
    inputs = ("data", "weight", "bias")
    color = "#fb8072"
    fresh_outputs = True
    num_hidden: int = param(doc="number of output units", check=_positive_int)
    no_bias: bool = param(False, doc="drop the bias input")
    flatten: bool = param(True, doc="collapse all but the first axis")

    def keeps_output(self):
        return False                    # saves the input and the weight

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

    def _2d(self, x):
        return x.reshape(x.shape[0], -1) if self.flatten else x.reshape(-1, x.shape[-1])

    def forward(self, data, weight, bias=None, *, train):
        x2 = self._2d(data)
        y = parallel.matmul(x2, weight.T)
        if bias is not None:
            y += bias
        out_shape = (data.shape[0], self.num_hidden) if self.flatten else data.shape[:-1] + (self.num_hidden,)
        return Result((y.reshape(out_shape),), saved=(x2, weight, data.shape))

    def backward(self, saved, dy):
        x2, w, shape = saved
        dy2 = dy.reshape(-1, self.num_hidden)
        dx = parallel.matmul(dy2, w).reshape(shape)
        dw = parallel.matmul(dy2.T, x2)
        if self.no_bias:
            return dx, dw
        return dx, dw, channel_sum(dy2.reshape(dy2.shape[0], -1, 1))

    def label(self, node_name):
        return "FullyConnected\n%d" % self.num_hidden

    @classmethod
    def examples(cls):
        yield {"num_hidden": 4}, {"data": (3, 2, 5)}
        yield {"num_hidden": 3, "flatten": False, "no_bias": True}, {"data": (2, 3, 5)}


# ============================================================ Convolution

def _expand(t, n, default):
    if len(t) == 0:
        return (default,) * n
    return tuple(t)


BATCH_LAST = {3: "CWN", 4: "CHWN", 5: "CDHWN"}
"""symnorm's batch-last layouts, ``(C, *S, N)``, by rank: set by the layout pass
(``symnorm.layout``) inside regions of convolution and pooling; not an MXNet layout."""

_BATCH_LAST_SET = frozenset(BATCH_LAST.values())
_LAYOUTS = ("NCW", "NCHW", "NCDHW") + tuple(BATCH_LAST.values())


class _Spatial(Op):
    """Shared kernel/stride/dilate/pad handling for Convolution and Pooling, in the
    channels-first layout ``(N, C, *S)`` or batch-last ``(C, *S, N)`` (``layout`` CHWN...)."""
    batch_last_gain = True

    @property
    def _bl(self) -> bool:
        return self.layout in _BATCH_LAST_SET

    def _split(self, shape):
        """(batch, channels, spatial dims) of a data shape in this op's layout."""
        if self._bl:
            return shape[-1], shape[0], tuple(shape[1:-1])
        return shape[0], shape[1], tuple(shape[2:])

    def _join(self, n, c, spatial):
        """A data shape in this op's layout."""
        return (c,) + tuple(spatial) + (n,) if self._bl else (n, c) + tuple(spatial)

    def _check_layout(self, nsp):
        if self.layout is not None and len(self.layout) != nsp + 2:
            raise ParamError("layout %r does not fit a %d-d kernel" % (self.layout, nsp))

    def batch_last(self, ndim):
        if self.layout not in (None, "NCW", "NCHW", "NCDHW") or ndim not in BATCH_LAST:
            return None
        return dataclasses.replace(self, layout=BATCH_LAST[ndim])

    def _geometry(self, nsp):
        """(stride, dilate, pad), each expanded to ``nsp`` spatial dims (memoized on the
        instance: the kernels ask for it several times a call)."""
        memo = self.__dict__.setdefault("_memo", {})   # a plain dict beside the frozen fields
        geom = memo.get(("geometry", nsp))
        if geom is None:
            dilate = getattr(self, "dilate", ())      # Pooling has no dilation
            geom = memo[("geometry", nsp)] = (_expand(self.stride, nsp, 1), _expand(dilate, nsp, 1),
                                              _expand(self.pad, nsp, 0))
        return geom


@register
class Convolution(_Spatial):
    """N-d convolution (1-D NCW, 2-D NCHW, 3-D NCDHW), with groups and dilation.

    out[n, f] = Σ_{c, k} W[f, c, k] · x_pad[n, g(f)·C/G + c, s·o + d·k] + b[f];
    output size per spatial axis: floor((H + 2p - d·(k-1) - 1) / s) + 1.
    W has shape (num_filter, C/num_group, *kernel)."""
    summary_params = True
    inputs = ("data", "weight", "bias")
    color = "#fb8072"
    backward_need = True
    fresh_outputs = True
    kernel: Shape = param(doc="kernel size (kh, kw)", check=all_positive)
    stride: Shape = param((), doc="stride, default 1", check=all_positive)
    dilate: Shape = param((), doc="dilation, default 1", check=all_positive)
    pad: Shape = param((), doc="zero padding, default 0", check=all_non_negative)
    num_filter: int = param(doc="number of output channels", check=_positive_int)
    num_group: int = param(1, doc="number of groups", check=_positive_int)
    workspace: int = param(1024, doc="accepted for MXNet compatibility; ignored")
    no_bias: bool = param(False)
    cudnn_tune: Optional[str] = param(None, choices=("off", "limited_workspace", "fastest"),
                                      doc="accepted for MXNet compatibility; ignored")
    cudnn_off: bool = param(False, doc="accepted for MXNet compatibility; ignored")
    layout: Optional[str] = param(None, choices=_LAYOUTS,
                                  doc="channels-first (MXNet's); CHWN etc. = batch last, "
                                      "set internally by the layout pass")

    def check(self):
        n = len(self.kernel)
        if not 1 <= n <= 3:
            raise ParamError("param 'kernel' must have 1, 2 or 3 dims, got %r" % (self.kernel,))
        for name in ("stride", "dilate", "pad"):
            v = getattr(self, name)
            if v and len(v) != n:
                raise ParamError("param %r has %d dims but kernel %r has %d"
                                 % (name, len(v), self.kernel, n))
        if self.num_filter % self.num_group:
            raise ParamError("num_filter (%d) must be divisible by num_group (%d)"
                             % (self.num_filter, self.num_group))
        self._check_layout(n)

    def arguments(self):
        return ("data", "weight") if self.no_bias else self.inputs

    def _out_dims(self, spatial):
        memo = self.__dict__.setdefault("_memo", {})
        key = ("out", tuple(spatial))
        if key not in memo:
            memo[key] = self._compute_out_dims(spatial)
        return memo[key]

    def _compute_out_dims(self, spatial):
        stride, dilate, pad = self._geometry(len(self.kernel))
        out = []
        for h, k, s, d, p in zip(spatial, self.kernel, stride, dilate, pad):
            if h is None:
                out.append(None)
                continue
            span = d * (k - 1) + 1
            if h + 2 * p < span:
                raise ShapeError("kernel %s (dilated extent %d) is larger than the padded input "
                                 "(%d + 2*%d)" % (self.kernel, span, h, p))
            out.append((h + 2 * p - span) // s + 1)
        return tuple(out)

    def infer_shape(self, data, weight, bias=None):
        if data is None:
            return None
        nsp = len(self.kernel)
        if len(data) != nsp + 2:
            raise ShapeError("a %d-d kernel needs %d-d input (%s), got %s"
                             % (nsp, nsp + 2, "C, spatial..., N" if self._bl else "N, C, spatial...", data))
        n, c, spatial = self._split(data)
        if c is not None and c % self.num_group:
            raise ShapeError("input channels (%d) must be divisible by num_group (%d)"
                             % (c, self.num_group))
        wshape = (self.num_filter, dim_op(lambda c: c // self.num_group, c)) + tuple(self.kernel)
        out = self._join(n, self.num_filter, self._out_dims(spatial))
        shapes = (data, wshape) + (() if self.no_bias else ((self.num_filter,),))
        return shapes, (out,)

    # -- kernels ---------------------------------------------------------
    # Internally the batch axis goes last: x is taken as (C, *S, N), so every im2col copy
    # and col2im add below moves blocks whose inner run is OW·N contiguous elements (in NCHW
    # they would be OW ≈ 8 elements).  Measured on LeNet's layers this is ~2x faster end to
    # end.  Channels-first data is transposed on the way in and out; batch-last data (the
    # layout pass's CHWN) is used as it is.

    def _offsets(self, out_sp):
        """(kernel offset, the input slices it reads for every output position), per
        offset in row-major order (cached per geometry: a LeNet step asks ~80 times)."""
        stride, dilate, _ = self._geometry(len(self.kernel))
        return _kernel_offsets(tuple(self.kernel), tuple(stride), tuple(dilate), tuple(out_sp))

    def _im2col(self, data, scratch):
        """(G, Cg·K, O·N) columns and the padded (G, Cg, *Sp, N) input shape.  ``scratch``:
        the columns die in this call (a reused buffer); else they are kept for backward
        (recycled across training steps when large)."""
        n, c, spatial = self._split(data.shape)
        g = self.num_group
        cg = c // g
        out_sp = self._out_dims(spatial)
        if self._pointwise():
            # 1x1 windows at stride 1: the columns are the batch-last input itself (kept for
            # backward, a channels-first input is transposed into a recycled array); no
            # im2col copy: MobileNet v2 training 7% and inference 10% faster
            if self._bl or scratch:
                xt = self._padded_t(data, scratch=scratch)
            else:
                xt = recycled_empty((c,) + spatial + (n,), data.dtype)
                np.copyto(xt, np.moveaxis(data, 0, -1))
            xt = xt.reshape((g, cg) + xt.shape[1:])
            return xt.reshape(g, cg, -1), xt.shape, out_sp
        xt = self._padded_t(data, scratch=True)
        xt = xt.reshape((g, cg) + xt.shape[1:])
        shape = (g, cg) + tuple(self.kernel) + out_sp + (n,)
        cols = workspace(shape, data.dtype, "conv-cols") if scratch else recycled_empty(shape, data.dtype)
        offsets = self._offsets(out_sp)

        def copy(r):                    # the offsets of one piece (parallel mode splits them)
            for off, sl in offsets[r]:
                copy_runs(cols[(slice(None), slice(None)) + off], xt[(slice(None), slice(None)) + sl])
        parallel.map_slices(copy, len(offsets), cols.size)
        return cols.reshape(g, cg * math.prod(self.kernel), -1), xt.shape, out_sp

    def _pointwise(self):
        """1x1 windows, stride 1, no padding: every input position is one column."""
        stride, _, pad = self._geometry(len(self.kernel))
        return all(k == 1 for k in self.kernel) and all(s == 1 for s in stride) and not any(pad)

    def _depthwise(self, data):
        """groups == channels == filters: no GEMM; the shifted windows of a block of
        channels are stacked and weighted in one einsum (``_depthwise_blocks``)."""
        c = self._split(data.shape)[1]
        return self.num_group == self.num_filter == c and self.num_group > 1

    def _padded_t(self, data, scratch=False):
        """The input batch-innermost and zero-padded: (C, *S+2p, N), contiguous; in a reused
        buffer with ``scratch`` (when it dies in this call)."""
        _, _, pad = self._geometry(len(self.kernel))
        xt = data if self._bl else np.moveaxis(data, 0, -1)
        if not any(pad):
            if scratch and not xt.flags.c_contiguous:
                buf = workspace(xt.shape, xt.dtype, "conv-in")
                np.copyto(buf, xt)
                return buf
            return np.ascontiguousarray(xt)
        return padded(xt, 1, pad, pad, 0, "conv-in" if scratch else None)

    def keeps_output(self):
        return False                    # saves the columns (or the input) and the weight

    def _to_layout(self, yt, scratch=False):
        """A (C, *S, N) result in this op's layout, contiguous; always a new array when
        ``yt`` is a scratch buffer (with N = 1 the transpose alone would be a view of it)."""
        if not self._bl:
            return last_axis_first(yt)                  # always a new array
        return yt.copy(order="C") if scratch else np.ascontiguousarray(yt)

    def _from_layout(self, dy):
        """A gradient in this op's layout as (C, *S, N), contiguous (a reused buffer when
        it has to be transposed: it dies in backward)."""
        if self._bl:
            return np.ascontiguousarray(dy)
        moved = np.moveaxis(dy, 0, -1)
        buf = workspace(moved.shape, dy.dtype, "conv-dy")
        np.copyto(buf, moved)
        return buf

    def _uncrop(self, dxt, xshape, scratch=False):
        """The padded (C, *Sp, N) input gradient cropped to the input, in this op's layout
        (a new array when ``dxt`` is scratch)."""
        _, _, pad = self._geometry(len(self.kernel))
        spatial = self._split(xshape)[2]
        if any(pad):
            dxt = dxt[(slice(None),) + tuple(slice(p, p + h) for p, h in zip(pad, spatial))]
        return self._to_layout(dxt, scratch)

    STACK_ELEMS = 1 << 16       # output elements per channel block of the depthwise kernels

    def _depthwise_blocks(self, xt, channels, out_sp, n, dtype):
        """Per block of the ``channels`` range ``(c0, c1, stack)``: the block's K shifted
        input windows stacked as (K, block, O·N) in a reused per-thread buffer (short
        batch-last runs copied as opaque items)."""
        per = math.prod(out_sp) * n
        k = math.prod(self.kernel)
        step = max(1, self.STACK_ELEMS // max(1, per))
        width = channels.stop - channels.start
        stack = workspace((k, min(step, width)) + tuple(out_sp) + (n,), dtype, "dw-stack")
        windows = [sl for _, sl in self._offsets(out_sp)]
        for c0 in range(channels.start, channels.stop, step):
            c1 = min(channels.stop, c0 + step)
            s = stack[:, :c1 - c0]
            for i, sl in enumerate(windows):
                copy_runs(s[i], xt[(slice(c0, c1),) + sl])
            yield c0, c1, s.reshape(k, c1 - c0, per)

    def _depthwise_forward(self, data, weight, bias):
        # y[c] = Σ_k w[c, k] · x[c, shifted by k]: per channel block the K windows are
        # stacked, then one einsum pass sums them (1.5-2.4x faster than K multiply-add
        # passes over an accumulator, measured on MobileNet v2's layers at batch 1 and 8)
        xt = self._padded_t(data)                                    # (C, *Sp, N)
        n, c, spatial = self._split(data.shape)
        out_sp = self._out_dims(spatial)
        y = np.empty((c,) + out_sp + (n,), data.dtype)
        y2 = y.reshape(c, -1)
        wt = weight.reshape(c, -1).T.astype(data.dtype, copy=False)             # (K, C)

        def channels(r):                # a range of channels (parallel mode splits them)
            for c0, c1, stack in self._depthwise_blocks(xt, r, out_sp, n, data.dtype):
                np.einsum("kcm,kc->cm", stack, wt[:, c0:c1], out=y2[c0:c1])
        parallel.map_slices(channels, c, y.size * wt.shape[0])
        if bias is not None:
            y += bias.reshape((c,) + (1,) * (len(out_sp) + 1))
        return xt, y, out_sp

    def _depthwise_backward(self, xt, weight, dyt, out_sp, need_dx):
        # per channel block: dW from the stacked windows in one einsum, then dx by adding
        # each offset's weighted dy into the block's padded gradient while both are in
        # cache (the stack, free by then, holds the weighted dy)
        c, n = dyt.shape[0], dyt.shape[-1]
        wk = weight.reshape(c, -1).astype(dyt.dtype, copy=False)
        dw = np.empty(wk.shape, dyt.dtype)
        d2 = dyt.reshape(c, -1)
        dxt = np.zeros_like(xt, dtype=dyt.dtype) if need_dx else None
        windows = [sl for _, sl in self._offsets(out_sp)]
        bshape = (1,) * (len(out_sp) + 1)

        def channels(r):                # a range of channels (parallel mode splits them)
            for c0, c1, stack in self._depthwise_blocks(xt, r, out_sp, n, dyt.dtype):
                np.einsum("kcm,cm->ck", stack, d2[c0:c1], out=dw[c0:c1])
                if need_dx:
                    dyb = dyt[c0:c1]
                    weighted = stack[0].reshape(dyb.shape)
                    for i, sl in enumerate(windows):
                        np.multiply(dyb, wk[c0:c1, i].reshape((-1,) + bshape), out=weighted)
                        dxt[(slice(c0, c1),) + sl] += weighted
        parallel.map_slices(channels, c, dyt.size * wk.shape[1])
        return dw.reshape(weight.shape).astype(weight.dtype, copy=False), dxt

    def forward(self, data, weight, bias=None, *, train):
        nsp = len(self.kernel)
        g, f = self.num_group, self.num_filter
        if self._depthwise(data):
            xt, y, out_sp = self._depthwise_forward(data, weight, bias)
            return Result((self._to_layout(y),), None, ("depthwise", xt, weight, data.shape, out_sp))
        # inference: the im2col matrix dies here, so it lives in a reused scratch buffer;
        # training keeps it for the weight gradient
        cols, xt_shape, out_sp = self._im2col(data, scratch=not train)
        wm = weight.reshape(g, f // g, -1)
        # channels-first: y dies in the transpose below, so it takes a reused buffer
        y = None if self._bl else workspace((g, f // g, cols.shape[-1]), cols.dtype, "conv-y")
        y = matmul_wide(wm[0], cols[0], out=None if y is None else y[0])[None] if g == 1 else \
            parallel.matmul(wm, cols, out=y)
        y = y.reshape((f,) + out_sp + (self._split(data.shape)[0],))
        if bias is not None:
            y += bias.reshape((f,) + (1,) * (nsp + 1))
        # training keeps the columns for the weight gradient; inference only the input
        saved = ("gemm", cols, weight, data.shape, xt_shape, out_sp) if train else \
            ("gemm-input", data, weight, data.shape, xt_shape, out_sp)
        return Result((self._to_layout(y, scratch=not self._bl),), None, saved)

    def backward(self, saved, dy, *, need=None):
        need_dx = need is None or need[0]
        if saved[0] == "depthwise":            # saved[0] names the path the forward took
            _, xt, weight, xshape, out_sp = saved
            dyt = self._from_layout(dy)
            dw, dxt = self._depthwise_backward(xt, weight, dyt, out_sp, need_dx)
            dx = self._uncrop(dxt, xshape) if need_dx else None
            db = None if self.no_bias else row_sums(dyt.reshape(dyt.shape[0], -1))
            return (dx, dw) if self.no_bias else (dx, dw, db)
        path, cols, weight, xshape, xt_shape, out_sp = saved
        if path == "gemm-input":              # after an inference forward: the input was kept
            cols = self._im2col(cols, scratch=True)[0]
        g, f = self.num_group, self.num_filter
        n, c, _ = self._split(xshape)
        dyt = self._from_layout(dy)                                  # (F, *O, N)
        dy_mat = dyt.reshape(g, f // g, -1)
        dw = (matmul_nt(dy_mat[0], cols[0]) if g == 1 else
              parallel.matmul(dy_mat, cols.transpose(0, 2, 1))).reshape(weight.shape)
        db = None if self.no_bias else row_sums(dyt.reshape(f, -1))
        dx = None
        wt = weight.reshape(g, f // g, -1).transpose(0, 2, 1)
        if need_dx and self._pointwise():
            # 1x1 at stride 1: the column gradient is the input gradient (no col2im)
            dxt = parallel.matmul(wt, dy_mat).reshape((c,) + xt_shape[2:])
            dx = self._to_layout(dxt)
        elif need_dx:
            dcols = parallel.matmul(wt, dy_mat, out=workspace((g, wt.shape[1], dy_mat.shape[-1]), dy.dtype,
                                                         "conv-dcols"))
            cg = c // g
            dcols = dcols.reshape((g, cg) + tuple(self.kernel) + out_sp + (n,))
            # (G, Cg, *Sp, N); scratch when a crop or transpose copies it out
            _, _, pad = self._geometry(len(self.kernel))
            scratch = any(pad) or not self._bl
            dxt = workspace_filled(xt_shape, dy.dtype, 0, "conv-dx") if scratch else np.zeros(xt_shape, dy.dtype)
            offsets = self._offsets(out_sp)

            def col2im(r):              # input channels r (parallel mode splits them)
                for off, sl in offsets:
                    dxt[(slice(None), r) + sl] += dcols[(slice(None), r) + off]
            parallel.map_slices(col2im, cg, dcols.size)
            dx = self._uncrop(dxt.reshape((g * cg,) + xt_shape[2:]), xshape, scratch)
        return (dx, dw) if self.no_bias else (dx, dw, db)

    def label(self, node_name):
        stride = "x".join(map(str, self.stride)) if self.stride else "1"
        return "Convolution\n%s/%s, %d" % ("x".join(map(str, self.kernel)), stride, self.num_filter)

    @classmethod
    def examples(cls):
        yield {"kernel": (3, 3), "num_filter": 2, "pad": (1, 1)}, {"data": (2, 3, 5, 6)}
        yield {"kernel": (3, 2), "num_filter": 4, "num_group": 2, "stride": (2, 1),
               "dilate": (1, 2), "no_bias": True}, {"data": (2, 4, 7, 6)}
        yield {"kernel": (3,), "num_filter": 2}, {"data": (2, 3, 7)}
        yield {"kernel": (3, 3), "num_filter": 3, "num_group": 3, "pad": (1, 1), "stride": (2, 1)}, {"data": (2, 3, 5, 6)}
        yield {"kernel": (2, 3, 2), "num_filter": 2, "pad": (0, 1, 0), "stride": (1, 2, 1)}, {"data": (1, 2, 3, 4, 3)}
        yield {"kernel": (1, 1), "num_filter": 3}, {"data": (2, 4, 3, 5)}          # pointwise
        yield {"kernel": (1, 1), "num_filter": 4, "num_group": 2, "no_bias": True}, {"data": (3, 4, 2, 2)}


# ============================================================ Deconvolution

@register
class Deconvolution(_Spatial):
    """Transposed convolution (the gradient of Convolution with respect to its input):
    out size per axis = s·(in-1) + d·(k-1) + 1 - 2p + adj; ``target_shape`` picks pad and
    adj to reach that size.  W has shape (C, num_filter/num_group, *kernel).  Computed as
    one BLAS product per group and a col2im in the batch-innermost layout (forward), and
    Convolution's im2col of dy (backward)."""
    inputs = ("data", "weight", "bias")
    color = "#fb8072"
    fresh_outputs = True
    summary_params = True
    kernel: Shape = param(doc="kernel size", check=all_positive)
    stride: Shape = param((), check=all_positive)
    dilate: Shape = param((), check=all_positive)
    pad: Shape = param((), check=all_non_negative)
    adj: Shape = param((), check=all_non_negative, doc="extra size on the far side")
    target_shape: Shape = param((), doc="output spatial size (overrides pad and adj)")
    num_filter: int = param(check=_positive_int)
    num_group: int = param(1, check=_positive_int)
    workspace: int = param(512, doc="accepted for MXNet compatibility; ignored")
    no_bias: bool = param(True)
    cudnn_tune: Optional[str] = param(None, choices=("off", "limited_workspace", "fastest"))
    cudnn_off: bool = param(False)
    layout: Optional[str] = param(None, choices=("NCW", "NCHW", "NCDHW"))
    batch_last_gain = False

    def batch_last(self, ndim):
        return None                     # computed channels-first only

    def check(self):
        n = len(self.kernel)
        if not 1 <= n <= 3:
            raise ParamError("param 'kernel' must have 1, 2 or 3 dims, got %r" % (self.kernel,))
        for name in ("stride", "dilate", "pad", "adj", "target_shape"):
            v = getattr(self, name)
            if v and len(v) != n:
                raise ParamError("param %r has %d dims but kernel %r has %d" % (name, len(v), self.kernel, n))

    def arguments(self):
        return ("data", "weight") if self.no_bias else self.inputs

    def _plan(self, spatial):
        """(pad, adj, out) per axis for these input sizes."""
        nsp = len(self.kernel)
        stride, dilate, pad = self._geometry(nsp)
        adj = _expand(self.adj, nsp, 0)
        pads, adjs, outs = [], [], []
        for i, (h, k, st, d, p, a) in enumerate(zip(spatial, self.kernel, stride, dilate, pad, adj)):
            full = st * (h - 1) + d * (k - 1) + 1
            if self.target_shape:
                total = full - self.target_shape[i]
                if total < 0:
                    raise ShapeError("target_shape %s is larger than the largest output %d"
                                     % (self.target_shape, full))
                p, a = (total + 1) // 2, total % 2
            o = full - 2 * p + a
            if o <= 0 or a >= max(st, d):
                raise ShapeError("output size %d (pad %d, adj %d) is invalid for input %d" % (o, p, a, h))
            pads.append(p)
            adjs.append(a)
            outs.append(o)
        return tuple(pads), tuple(adjs), tuple(outs)

    def infer_shape(self, data, weight, bias=None):
        if data is None or not known(data[2:]):
            return None
        nsp = len(self.kernel)
        if len(data) != nsp + 2:
            raise ShapeError("a %d-d kernel needs %d-d input, got %s" % (nsp, nsp + 2, data))
        c = data[1]
        if c is not None and c % self.num_group:
            raise ShapeError("input channels (%d) must be divisible by num_group (%d)" % (c, self.num_group))
        if self.num_filter % self.num_group:
            raise ShapeError("num_filter (%d) must be divisible by num_group (%d)"
                             % (self.num_filter, self.num_group))
        _, _, out = self._plan(data[2:])
        wshape = (c, self.num_filter // self.num_group) + tuple(self.kernel)
        shapes = (data, wshape) + (() if self.no_bias else ((self.num_filter,),))
        return shapes, ((data[0], self.num_filter) + out,)

    def _conv(self, channels):
        """The Convolution this op transposes (from num_filter to ``channels`` channels)."""
        return Convolution(kernel=self.kernel, stride=self.stride, dilate=self.dilate,
                           num_filter=channels, num_group=self.num_group, no_bias=True)

    def forward(self, data, weight, bias=None, *, train):
        n, c = data.shape[:2]
        g, f = self.num_group, self.num_filter
        nsp = len(self.kernel)
        pad, adj, out = self._plan(data.shape[2:])
        stride, dilate, _ = self._geometry(nsp)
        full = tuple(st * (h - 1) + d * (k - 1) + 1 + a
                     for h, k, st, d, a in zip(data.shape[2:], self.kernel, stride, dilate, adj))
        xt = np.ascontiguousarray(np.moveaxis(data, 0, -1)).reshape(g, c // g, -1)   # (G, C/G, I·N)
        cols = parallel.matmul(weight.reshape(g, c // g, -1).transpose(0, 2, 1), xt)      # (G, F/G·K, I·N)
        cols = cols.reshape((g, f // g) + tuple(self.kernel) + data.shape[2:] + (n,))
        yt = np.zeros((g, f // g) + full + (n,), data.dtype)
        for off, sl in self._conv(c)._offsets(data.shape[2:]):
            yt[(slice(None), slice(None)) + sl] += cols[(slice(None), slice(None)) + off]
        yt = yt.reshape((f,) + full + (n,))[(slice(None),) + tuple(slice(p, p + o) for p, o in zip(pad, out))]
        y = last_axis_first(yt)
        if bias is not None:
            y += bias.reshape((1, f) + (1,) * nsp)
        return Result((y,), None, (data, weight, pad, full))

    def backward(self, saved, dy):
        x, weight, pad, full = saved
        n, c = x.shape[:2]
        g, f = self.num_group, self.num_filter
        # dy, placed back into the uncropped output, through the convolution's im2col
        dyp = np.zeros((n, f) + full, dy.dtype)
        dyp[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(pad, dy.shape[2:]))] = dy
        cols, _, in_sp = self._conv(c)._im2col(dyp, scratch=False)                  # (G, F/G·K, I·N)
        if in_sp != x.shape[2:]:                     # adj leaves extra rows nobody reads
            cols = cols.reshape((g, -1) + in_sp + (n,))[
                (slice(None), slice(None)) + tuple(slice(0, h) for h in x.shape[2:])].reshape(g, cols.shape[1], -1)
        xt = np.ascontiguousarray(np.moveaxis(x, 0, -1)).reshape(g, c // g, -1)
        dx = parallel.matmul(weight.reshape(g, c // g, -1), cols)                          # (G, C/G, I·N)
        dx = last_axis_first(dx.reshape((c,) + x.shape[2:] + (n,)))
        dw = parallel.matmul(xt, cols.transpose(0, 2, 1)).reshape(weight.shape)
        if self.no_bias:
            return dx, dw
        return dx, dw, channel_sum(dy.reshape(n, f, -1))

    def label(self, node_name):
        stride = "x".join(map(str, self.stride)) if self.stride else "1"
        return "Deconvolution\n%s/%s, %d" % ("x".join(map(str, self.kernel)), stride, self.num_filter)

    @classmethod
    def examples(cls):
        yield {"kernel": (3, 3), "num_filter": 2, "no_bias": False}, {"data": (2, 3, 4, 5)}
        yield {"kernel": (4, 3), "num_filter": 4, "stride": (2, 2), "pad": (1, 1), "adj": (1, 0),
               "num_group": 2}, {"data": (1, 2, 3, 4)}
        yield {"kernel": (3,), "num_filter": 2, "stride": (2,), "target_shape": (8,)}, {"data": (2, 3, 4)}


# ============================================================ Pooling

@register
class Pooling(_Spatial):
    """max / avg / sum / lp pooling over 1-d, 2-d or 3-d windows.

    Output size per axis: floor((H + 2p - k)/s) + 1 ('valid'), ceil(...) + 1 ('full', the
    partial last window padded with -inf for max), ceil(H/s) ('same').  avg divides by k
    (window clipped to the padded input) with ``count_include_pad``, else by the number of
    in-bounds elements.  Max-pool backward routes the gradient to the *first* maximum.

    Max pooling has a hidden second output, ``workspace``, because MXNet 1.9.1's CPU wheel
    (built with oneDNN) declares one: it counts in the JSON's ``node_row_ptr``."""
    outputs = ("output", "workspace")
    no_grad_outputs = ("workspace",)
    batch_last_outputs = ("output", "workspace")
    color = "#80b1d3"
    fresh_outputs = True
    kernel: Shape = param((), doc="window size; required unless global_pool", check=all_positive)
    pool_type: str = param("max", choices=("max", "avg", "sum", "lp"))
    global_pool: bool = param(False, doc="pool over the whole spatial extent")
    cudnn_off: bool = param(False, doc="accepted for MXNet compatibility; ignored")
    pooling_convention: str = param("valid", choices=("valid", "full", "same"))
    stride: Shape = param((), doc="stride, default 1", check=all_positive)
    pad: Shape = param((), doc="padding, default 0", check=all_non_negative)
    p_value: Optional[int] = param(None, doc="p of lp pooling")
    count_include_pad: Optional[bool] = param(None, doc="avg: count padding (default True)")
    layout: Optional[str] = param(None, choices=_LAYOUTS,
                                  doc="channels-first (MXNet's); CHWN etc. = batch last, "
                                      "set internally by the layout pass")

    def check(self):
        if not self.global_pool and not self.kernel:
            raise ParamError("param 'kernel' is required unless global_pool=True (0D pooling not supported)")
        n = len(self.kernel)
        if n > 3:
            raise ParamError("param 'kernel' must have 1, 2 or 3 dims, got %r" % (self.kernel,))
        for name in ("stride", "pad"):
            v = getattr(self, name)
            if v and n and len(v) != n:
                raise ParamError("param %r has %d dims but kernel %r has %d"
                                 % (name, len(v), self.kernel, n))
        if self.pool_type == "lp" and not self.p_value:
            raise ParamError("pool_type='lp' needs p_value")
        if n:
            self._check_layout(n)

    def output_names(self):
        return ("output", "workspace") if self.pool_type == "max" else ("output",)

    def keeps_output(self):
        return self.pool_type in ("max", "lp")    # their backward reads the pooled values

    def num_visible_outputs(self):
        return 1

    def _window(self, spatial):
        """(kernel, stride, pad, out dims, right padding) for the given input spatial dims."""
        nsp = len(spatial)
        if self.global_pool:
            return tuple(spatial), (1,) * nsp, (0,) * nsp, (1,) * nsp, (0,) * nsp
        if len(self.kernel) != nsp:
            raise ShapeError("a %d-d kernel needs %d-d input (N, C, spatial...), got %d spatial dims"
                             % (len(self.kernel), len(self.kernel) + 2, nsp))
        stride, _, pad = _expand(self.stride, nsp, 1), None, _expand(self.pad, nsp, 0)
        out, extra = [], []
        for h, k, s, p in zip(spatial, self.kernel, stride, pad):
            if self.pooling_convention == "same":
                o = -(-h // s)
                need = max((o - 1) * s + k - h, 0)
                out.append(o)
                extra.append(need - p)
                continue
            if h + 2 * p < k:
                raise ShapeError("pooling kernel %s is larger than the padded input (%d + 2*%d)"
                                 % (self.kernel, h, p))
            if self.pooling_convention == "valid":
                o = (h + 2 * p - k) // s + 1
            else:
                o = -(-(h + 2 * p - k) // s) + 1
            out.append(o)
            extra.append((o - 1) * s + k - (h + 2 * p))
        return tuple(self.kernel), stride, pad, tuple(out), tuple(max(e, 0) for e in extra)

    def infer_shape(self, data):
        if data is None:
            return None
        if len(data) < 3:
            raise ShapeError("Pooling needs (N, C, spatial...) input, got %s" % (data,))
        n, c, spatial = self._split(data)
        if not known(spatial):
            return None
        _, _, _, out, _ = self._window(spatial)
        y = self._join(n, c, out)
        return (data,), (y,) * len(self.output_names())

    # the spatial axes start after (N, C) channels-first, after C batch-last, and the
    # batch-last layout has N as a trailing axis every per-position array broadcasts over
    def _lead(self):
        return 1 if self._bl else 2

    def _trail(self):
        return (1,) if self._bl else ()

    def _padded(self, x, geom, scratch=False):
        """The input padded for the windows of ``geom`` (in a reused buffer with ``scratch``)."""
        _, _, pad, _, extra = geom
        if not (any(pad) or any(extra)):
            return x
        return padded(x, self._lead(), pad, tuple(p + e for p, e in zip(pad, extra)),
                      -np.inf if self.pool_type == "max" else 0, "pool-pad" if scratch else None)

    def _offsets(self, kernel, stride, out):
        """Slices for every kernel offset (row-major): the input elements that the offset
        contributes to each output position, as one strided view."""
        lead = (slice(None),) * self._lead()
        for off in itertools.product(*(range(k) for k in kernel)):
            yield lead + tuple(slice(o, o + s * (n - 1) + 1, s) for o, s, n in zip(off, stride, out))

    def _divisor(self, spatial, geom, dtype):
        """Each window's element count (what average pooling divides by): a scalar when
        every window has the same count, which numpy applies ~1.8x faster than a broadcast
        array (same quotients).  Cached: it depends on the geometry only (~45 µs a call)."""
        kernel, stride, pad, out, _ = geom
        return _window_counts(tuple(spatial), tuple(kernel), tuple(stride), tuple(pad), tuple(out),
                              self.count_include_pad is not False, np.dtype(dtype).str,
                              len(self._trail()))

    # Window reads.  Each kernel offset reads one strided view of the padded input, one
    # ufunc per offset (no window copies: 16x faster than reducing a reshaped window view
    # for 2x2 average pooling).  With a stride > 1 those views have short inner runs (one
    # element in NCHW); then the input is first split by stride phase ("space to depth":
    # phase p holds positions p, p+s, p+2s, ...), where every offset's window is a unit-
    # stride slice whose inner run is a whole output row (times N, batch-last).

    PHASE_RUN = 128     # split by phase when a direct view's inner run is shorter than this

    def _use_phases(self, xp, kernel, stride, out):
        # the split is one pass over the input: worth it when windows overlap (each input
        # element read more than once), not for tiling windows like 2x2/2
        if all(s == 1 for s in stride) or math.prod(kernel) <= math.prod(stride):
            return False
        trail = math.prod(xp.shape[self._lead() + len(stride):])
        run = trail if stride[-1] > 1 else trail * out[-1]
        return run < self.PHASE_RUN

    def _phases_shape(self, padded_shape, stride):
        """Shape of the phase split of a padded array: (number of phases, *per-phase shape)."""
        lead, nsp = self._lead(), len(stride)
        per = tuple(-(-h // s) for h, s in zip(padded_shape[lead:lead + nsp], stride))
        return (math.prod(stride),) + tuple(padded_shape[:lead]) + per + tuple(padded_shape[lead + nsp:])

    def _phase_pairs(self, padded, phases, stride):
        """(positions ``p + s·i`` of ``padded``, the part of ``phases[j]`` holding them) for
        every phase p, the j-th in row-major order over the strides."""
        lead = (slice(None),) * self._lead()
        for j, ph in enumerate(itertools.product(*(range(s) for s in stride))):
            view = padded[lead + tuple(slice(p, None, s) for p, s in zip(ph, stride))]
            yield view, phases[j][lead + tuple(slice(0, n) for n in view.shape[len(lead):len(lead) + len(stride)])]

    def _phase_split(self, xp, stride, scratch):
        """The padded input split by stride phase (in a reused buffer with ``scratch``)."""
        shape = self._phases_shape(xp.shape, stride)
        phases = workspace(shape, xp.dtype, "pool-phases") if scratch else np.empty(shape, xp.dtype)
        for view, part in self._phase_pairs(xp, phases, stride):
            copy_runs(part, view)
        return phases

    def _phase_merge(self, phases, stride, padded_shape, dtype):
        """The inverse of ``_phase_split``: a padded-shape array (scratch) from its phases."""
        out = workspace(padded_shape, dtype, "pool-merge")
        for view, part in self._phase_pairs(out, phases, stride):
            copy_runs(view, part)
        return out

    def _windows(self, src, kernel, stride, out, phased):
        """One view per kernel offset (row-major): the elements that offset contributes to
        each output position, in ``src`` (the padded input, or its phases)."""
        lead = (slice(None),) * self._lead()
        if not phased:
            return [src[sl] for sl in self._offsets(kernel, stride, out)]
        phase_ids = {ph: j for j, ph in enumerate(itertools.product(*(range(s) for s in stride)))}
        views = []
        for off in itertools.product(*(range(k) for k in kernel)):
            j = phase_ids[tuple(o % s for o, s in zip(off, stride))]
            views.append(src[j][lead + tuple(slice(o // s, o // s + n) for o, s, n in zip(off, stride, out))])
        return views

    def forward(self, data, *, train):
        # max and lp pooling keep the windows' source (the padded input or its phases) for
        # backward; every other intermediate lives in reused scratch buffers
        keep = self.pool_type in ("max", "lp")
        kernel, stride, _, out, _ = geom = self._window(self._split(data.shape)[2])
        phased = self._use_phases(data, kernel, stride, out)
        xp = self._padded(data, geom, scratch=phased or not keep)
        src = self._phase_split(xp, stride, scratch=not keep) if phased else xp
        views = self._windows(src, kernel, stride, out, phased)
        if self.pool_type == "max":
            # a running maximum (masked copies from strided views cost 5x more); backward
            # finds the first maximum of each window again from the saved input
            y = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
            for v in views[2:]:
                np.maximum(y, v, out=y)
            saved = ((src, y), xp.shape, geom, data.shape, phased)
        elif self.pool_type in ("avg", "sum"):
            y = np.add(views[0], views[1]) if len(views) > 1 else views[0].copy()
            for v in views[2:]:
                y += v
            if self.pool_type == "avg":
                y /= self._divisor(self._split(data.shape)[2], geom, y.dtype)
            saved = (None, xp.shape, geom, data.shape, phased)
        else:
            p = self.p_value
            acc = np.zeros(views[0].shape, np.float64)
            for v in views:
                acc += np.abs(v) ** p
            y = np.power(acc, 1.0 / p)
            saved = ((src, y), xp.shape, geom, data.shape, phased)
        y = np.ascontiguousarray(y, dtype=data.dtype)
        return Result((y,) * len(self.output_names()), saved=saved)

    def backward(self, saved, dy):
        aux, padded_shape, geom, xshape, phased = saved
        kernel, stride, pad, out, _ = geom
        spatial = self._split(xshape)[2]
        if self.pool_type == "avg":
            dy = dy / self._divisor(spatial, geom, dy.dtype)
        if (self.pool_type in ("avg", "sum") and kernel == stride and not any(pad)
                and tuple(o * k for o, k in zip(out, kernel)) == spatial):
            # windows tile the input exactly: the gradient is one broadcast copy (a divide
            # into the broadcast view instead measured 15% slower than divide-then-copy)
            lead, trail = xshape[:self._lead()], (xshape[-1:] if self._bl else ())
            dx = np.empty(xshape, dy.dtype)
            tiled = dx.reshape(lead + tuple(x for o, k in zip(out, kernel) for x in (o, k)) + trail)
            tiled[...] = dy.reshape(lead + tuple(x for o in out for x in (o, 1)) + trail)
            return (dx,)
        lead = self._lead()
        cropped = tuple(padded_shape) != tuple(xshape)
        if phased:
            gsrc = workspace_filled(self._phases_shape(padded_shape, stride), dy.dtype, 0, "pool-grad")
        elif cropped:
            gsrc = workspace_filled(padded_shape, dy.dtype, 0, "pool-grad")
        else:
            gsrc = np.zeros(padded_shape, dy.dtype)          # it is the result
        gviews = self._windows(gsrc, kernel, stride, out, phased)
        if self.pool_type == "lp":
            src, y = aux
            p = self.p_value
            with np.errstate(divide="ignore", invalid="ignore"):
                coef = np.where(y > 0, dy / np.power(y, p - 1), 0)
            for v, g in zip(self._windows(src, kernel, stride, out, phased), gviews):
                g += (np.power(np.abs(v), p - 1) * np.sign(v) * coef).astype(dy.dtype)
        elif self.pool_type == "max":
            src, y = aux
            hit = workspace(dy.shape, bool, "pool-hit")
            claimed = workspace_filled(dy.shape, bool, False, "pool-claimed")
            tmp = workspace(dy.shape, dy.dtype, "pool-tmp")
            for v, g in zip(self._windows(src, kernel, stride, out, phased), gviews):
                np.equal(v, y, out=hit)
                np.greater(hit, claimed, out=hit)      # hit and not yet claimed: the first maximum
                claimed |= hit
                np.multiply(dy, hit, out=tmp)
                g += tmp
        else:
            for g in gviews:
                g += dy
        dxp = self._phase_merge(gsrc, stride, padded_shape, dy.dtype) if phased else gsrc
        if dxp is gsrc and not cropped:
            return (dxp,)
        dx = np.empty(xshape, dy.dtype)                       # never a view of scratch
        np.copyto(dx, dxp[(slice(None),) * lead + tuple(slice(p, p + h) for p, h in zip(pad, spatial))])
        return (dx,)

    def label(self, node_name):
        if self.global_pool:
            return "Pooling\n%s, global" % self.pool_type
        stride = "x".join(map(str, self.stride)) if self.stride else "1"
        return "Pooling\n%s, %s/%s" % (self.pool_type, "x".join(map(str, self.kernel)), stride)

    @classmethod
    def examples(cls):
        yield {"kernel": (2, 2), "stride": (2, 2), "pool_type": "avg"}, {"data": (2, 3, 4, 6)}
        yield {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1), "pool_type": "avg",
               "count_include_pad": False}, {"data": (2, 2, 5, 5)}
        yield {"kernel": (3,), "pool_type": "sum", "pooling_convention": "full", "stride": (2,)}, {"data": (2, 3, 8)}
        yield {"kernel": (2, 2), "pool_type": "lp", "p_value": 2}, {"data": (1, 2, 3, 3)}
        yield {"global_pool": True, "pool_type": "avg"}, {"data": (2, 3, 4, 5)}
        yield {"kernel": (2, 2, 2), "stride": (2, 1, 2), "pool_type": "max"}, {"data": (1, 2, 4, 3, 4)}


@functools.lru_cache(maxsize=256)
def _kernel_offsets(kernel, stride, dilate, out_sp):
    """Convolution._offsets for one geometry, as a tuple (it is walked many times)."""
    return tuple((off, tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                             for o, d, s, n in zip(off, dilate, stride, out_sp)))
                 for off in itertools.product(*(range(k) for k in kernel)))


@functools.lru_cache(maxsize=256)
def _window_counts(spatial, kernel, stride, pad, out, include_pad, dtype, trail):
    """Pooling's per-window element counts for one geometry (see Pooling._divisor)."""
    counts = []
    for h, k, s, p, o in zip(spatial, kernel, stride, pad, out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, h + p)
        counts.append(end - start if include_pad else np.minimum(end, h) - np.maximum(start, 0))
    dtype = np.dtype(dtype)
    div = counts[0].astype(dtype)
    for c in counts[1:]:
        div = np.multiply.outer(div, c.astype(dtype))
    if div.min() == div.max():
        return dtype.type(div.flat[0])
    div = div.reshape(div.shape + (1,) * trail)
    div.flags.writeable = False                   # shared by every call with this geometry
    return div


# ============================================================ activations

_INPLACE = {   # act_type: f(x, out) computing into out (which may be x)
    "relu": lambda x, out: np.maximum(x, 0, out=out),
    "sigmoid": sigmoid,
    "tanh": lambda x, out: np.tanh(x, out=out),
}

def _sigmoid_grad(x, y, dy):
    """dy·y·(1-y) in three passes over one new array (not three temporaries), blocked."""
    return elementwise(_sigmoid_grad_into, np.empty(y.shape, y.dtype), y, dy, blocked=True)


def _sigmoid_grad_into(g, y, dy):
    np.subtract(1, y, out=g)
    g *= y
    g *= dy


def _tanh_grad(x, y, dy):
    """dy·(1-y²) in three passes over one new array, blocked."""
    return elementwise(_tanh_grad_into, np.empty(y.shape, y.dtype), y, dy, blocked=True)


def _tanh_grad_into(g, y, dy):
    np.multiply(y, y, out=g)
    np.subtract(1, g, out=g)
    g *= dy


_GRAD_FROM_Y = ("relu", "sigmoid", "tanh")     # gradients that need only the output

_ACTS = {
    # act_type: (forward f(x), gradient from (x, y, dy))
    "relu": (lambda x: np.maximum(x, 0), lambda x, y, dy: dy * (y > 0)),
    "sigmoid": (sigmoid, _sigmoid_grad),
    "tanh": (np.tanh, _tanh_grad),
    "softrelu": (lambda x: np.logaddexp(0, x).astype(x.dtype), lambda x, y, dy: dy * sigmoid(x)),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda x, y, dy: dy / np.square(1 + np.abs(x))),
    "log_sigmoid": (lambda x: -np.logaddexp(0, -x).astype(x.dtype), lambda x, y, dy: dy * sigmoid(-x)),
    "mish": (lambda x: x * np.tanh(np.logaddexp(0, x)).astype(x.dtype),
             lambda x, y, dy: dy * (np.tanh(np.logaddexp(0, x)) + x * sigmoid(x) *
                                    (1 - np.tanh(np.logaddexp(0, x)) ** 2)).astype(x.dtype)),
}


@register
class Activation(Op):
    """Elementwise activation: relu (gradient 0 at 0), sigmoid, tanh, softrelu
    (log(1+eˣ), gradient sigmoid), softsign (x/(1+|x|), gradient 1/(1+|x|)²), log_sigmoid, mish."""
    color = "#ffffb3"
    fresh_outputs = True
    inplace = True
    act_type: str = param(choices=tuple(_ACTS), doc="activation function")

    def forward(self, data, *, train, out=None):
        if out is not None and self.act_type in _INPLACE:
            y = _INPLACE[self.act_type](data, out)
            return Result((y,), saved=(None, y))
        y = _ACTS[self.act_type][0](data)
        # relu/sigmoid/tanh differentiate from y alone: not keeping x frees its buffer
        return Result((y,), saved=(None if self.act_type in _GRAD_FROM_Y else data, y))

    def backward(self, saved, dy):
        x, y = saved
        return (_ACTS[self.act_type][1](x, y, dy),)

    def batch_last(self, ndim):
        return self                     # elementwise: any layout

    def inplace_in_training(self):
        return self.act_type in _GRAD_FROM_Y    # backward needs y only, which is the output

    def label(self, node_name):
        return "Activation\n%s" % self.act_type

    @classmethod
    def examples(cls):
        for act in _ACTS:
            yield {"act_type": act}, {"data": (3, 4)}
        yield {"act_type": "sigmoid"}, {"data": (2, 3, 2, 2)}


_SELU_ALPHA, _SELU_LAMBDA = 1.6732632423543772, 1.0507009873554805


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


@register
class LeakyReLU(Op):
    """leaky: x>0 ? x : slope·x;  elu: x>0 ? x : slope·(eˣ-1);  selu: λ·(x>0 ? x : α(eˣ-1));
    gelu: x·Φ(x) (erf form);  prelu: x>0 ? x : gamma[c]·x with a learned per-channel gamma;
    rrelu: random slope in [lower_bound, upper_bound] in training, their mean otherwise.

    PReLU's gamma variable gets ``__init__ = ["Constant", {"value": 0.25}]`` when composed
    (unless it has an ``__init__``), as in MXNet: it starts at 0.25 under any initializer,
    not at the 1 of the ``*_gamma`` name rule (which would make the layer linear)."""
    inputs = ("data", "gamma")
    input_init = {"gamma": '["Constant", {"value": 0.25}]'}
    color = "#ffffb3"
    act_type: str = param("leaky", choices=("leaky", "elu", "selu", "gelu", "prelu", "rrelu"))
    slope: float = param(0.25, doc="slope of leaky/elu")
    lower_bound: float = param(0.125)
    upper_bound: float = param(0.334)

    def arguments(self):
        return self.inputs if self.act_type == "prelu" else ("data",)

    def infer_shape(self, data, gamma=None):
        if data is None:
            return None
        if self.act_type == "prelu":
            return (data, (data[1] if len(data) > 1 else 1,)), (data,)
        return (data,), (data,)

    def forward(self, data, gamma=None, *, train):
        x = data
        t = self.act_type
        slope = None
        if t == "leaky":
            y = np.where(x > 0, x, x * self.slope)
        elif t == "elu":
            y = np.where(x > 0, x, self.slope * np.expm1(np.minimum(x, 0)))
        elif t == "selu":
            y = _SELU_LAMBDA * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))
        elif t == "gelu":
            y = 0.5 * x * (1 + _erf(x / np.sqrt(2)))
        elif t == "prelu":
            g = gamma.reshape((1, -1) + (1,) * (x.ndim - 2)) if x.ndim > 1 else gamma
            y = np.where(x > 0, x, x * g)
        else:
            if train:
                slope = _random.generator().uniform(self.lower_bound, self.upper_bound, x.shape).astype(x.dtype)
            else:
                slope = x.dtype.type((self.lower_bound + self.upper_bound) / 2)
            y = np.where(x > 0, x, x * slope)
        return Result((y.astype(x.dtype),), saved=(x, gamma, slope))

    def backward(self, saved, dy):
        x, gamma, slope = saved
        t = self.act_type
        pos = x > 0
        if t == "leaky":
            return (dy * np.where(pos, 1, self.slope).astype(x.dtype),)
        if t == "elu":
            return (dy * np.where(pos, 1, self.slope * np.exp(np.minimum(x, 0))).astype(x.dtype),)
        if t == "selu":
            return (dy * _SELU_LAMBDA * np.where(pos, 1, _SELU_ALPHA * np.exp(np.minimum(x, 0))).astype(x.dtype),)
        if t == "gelu":
            cdf = 0.5 * (1 + _erf(x / np.sqrt(2)))
            pdf = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
            return ((dy * (cdf + x * pdf)).astype(x.dtype),)
        if t == "prelu":
            g = gamma.reshape((1, -1) + (1,) * (x.ndim - 2)) if x.ndim > 1 else gamma
            dx = dy * np.where(pos, 1, g)
            dg = dy * np.where(pos, 0, x)
            axes = (0,) + tuple(range(2, x.ndim)) if x.ndim > 1 else ()
            return dx.astype(x.dtype), (dg.sum(axis=axes) if axes else dg).astype(x.dtype)
        return (dy * np.where(pos, 1, slope).astype(x.dtype),)

    def label(self, node_name):
        return "LeakyReLU\n%s" % self.act_type

    def batch_last(self, ndim):
        # elementwise, except prelu (gamma per channel) and rrelu (random slopes: a
        # different layout would draw them in a different order)
        return None if self.act_type in ("prelu", "rrelu") else self

    @classmethod
    def examples(cls):
        for t in ("leaky", "elu", "selu", "gelu"):
            yield {"act_type": t}, {"data": (3, 4)}
        yield {"act_type": "prelu"}, {"data": (2, 3, 4)}
        yield {"act_type": "elu"}, {"data": (2, 3, 2, 2)}


# ============================================================ softmax family

def _softmax(x, axis, temperature=1.0):
    z = x / temperature if temperature != 1.0 else x
    z = z - z.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


@register
class softmax(Op):
    """y = exp(x/T) / Σ exp(x/T) along ``axis``."""
    axis: int = param(-1)
    temperature: Optional[float] = param(None, doc="T, default 1")

    def forward(self, data, *, train):
        t = self.temperature or 1.0
        y = _softmax(data, self.axis, t)
        return Result((y,), saved=y)

    def backward(self, y, dy):
        t = self.temperature or 1.0
        return ((dy - (dy * y).sum(axis=self.axis, keepdims=True)) * y / t,)

    @classmethod
    def examples(cls):
        yield {"axis": 1}, {"data": (2, 4, 3)}


@register
class log_softmax(Op):
    """y = x/T - log Σ exp(x/T) along ``axis``."""
    axis: int = param(-1)
    temperature: Optional[float] = param(None)

    def forward(self, data, *, train):
        t = self.temperature or 1.0
        z = data / t
        z = z - z.max(axis=self.axis, keepdims=True)
        y = z - np.log(np.exp(z).sum(axis=self.axis, keepdims=True))
        return Result((y,), saved=y)

    def backward(self, y, dy):
        t = self.temperature or 1.0
        return ((dy - np.exp(y) * dy.sum(axis=self.axis, keepdims=True)) / t,)

    @classmethod
    def examples(cls):
        yield {}, {"data": (3, 5)}


# ============================================================ Dropout

@register
class Dropout(Op):
    """Training (or mode='always'): zero each element with probability p and scale the rest
    by 1/(1-p); backward applies the same mask.  Inference: the identity.  ``axes`` share
    one mask value along those axes (variational dropout).  Reproducible with
    ``symnorm.random.seed``."""
    outputs = ("output", "mask")
    no_grad_outputs = ("mask",)
    p: float = param(0.5, check=in_range(0.0, 1.0, hi_open=True), doc="drop probability")
    mode: str = param("training", choices=("training", "always"))
    axes: Shape = param((), doc="axes sharing one mask value")
    cudnn_off: Optional[bool] = param(False, doc="accepted for MXNet compatibility; ignored")

    def num_visible_outputs(self):
        return 1

    def infer_shape(self, data):
        if data is None:
            return None
        return (data,), (data, data)

    def forward(self, data, *, train):
        if (not train and self.mode != "always") or self.p == 0:
            return Result((data, np.ones_like(data)), saved=None)
        shape = tuple(1 if i in self.axes else d for i, d in enumerate(data.shape))
        keep = _random.generator().random(shape, dtype=np.float64) >= self.p
        mask = keep.astype(data.dtype) * data.dtype.type(1.0 / (1.0 - self.p))
        return Result((data * mask, np.broadcast_to(mask, data.shape)), saved=mask)

    def backward(self, mask, dy):
        return (dy if mask is None else dy * mask,)

    @classmethod
    def examples(cls):
        yield {"p": 0.0}, {"data": (3, 4)}
