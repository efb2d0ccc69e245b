"""Convolution and Deconvolution, with MXNet 1.9.1's semantics.

Convolution is lowered to one BLAS matrix product per group (im2col through strided
windows, no Python loop over pixels or channels; 1x1 stride-1 convolutions use their input
as the columns, depthwise ones weight stacked windows in one einsum, thin products are cut
into batched pieces); backward scatters with one strided slice-add per kernel offset.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..runtime import parallel
from ..core.dims import dim_op, known
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param, positive, all_positive, all_non_negative
from ..core.registry import Result, register
from ._np import (channel_sum, copy_runs, last_axis_first, matmul_nt, matmul_wide, padded,
                  recycled_empty, row_sums, workspace, workspace_filled)
from .spatial import _LAYOUTS, _Spatial, _expand, _kernel_offsets


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
    num_filter: int = param(doc="number of output channels", check=positive)
    num_group: int = param(1, doc="number of groups", check=positive)
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

    def shape_back_axes(self):
        stride = self._geometry(len(self.kernel))[0]
        sp = tuple(i + (1 if self._bl else 2) for i, st in enumerate(stride) if st == 1)
        return {"data": ((-1, 0) if self._bl else (0, 1)) + sp}

    def infer_shape_backward(self, ins, outs):
        # batch from the output, channels from the weight (C = weight's dim 1 x num_group),
        # a spatial dim from the output's where its stride is 1 (as MXNet: a larger stride
        # rounds, so the input is not determined)
        weight, out = ins[1], outs[0]
        nsp = len(self.kernel)
        if out is None or len(out) != nsp + 2:
            return None
        n, _, out_sp = self._split(out)
        c = None if weight is None or len(weight) != nsp + 2 or weight[1] is None \
            else weight[1] * self.num_group
        stride, dilate, pad = self._geometry(nsp)
        spatial = tuple(None if o is None or st != 1 else o + d * (k - 1) - 2 * p
                        for o, st, d, k, p in zip(out_sp, stride, dilate, self.kernel, pad))
        return (self._join(n, c, spatial),) + (None,) * (len(ins) - 1)

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
    num_filter: int = param(check=positive)
    num_group: int = param(1, check=positive)
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

    shape_back = {"data": (0, 1)}

    def infer_shape_backward(self, ins, outs):
        # batch from the output, channels from the weight's dim 0
        data, weight, out = ins[0], ins[1], outs[0]
        nsp = len(self.kernel)
        if out is None or len(out) != nsp + 2:
            return None
        c = None if weight is None or len(weight) != nsp + 2 else weight[0]
        spatial = (None,) * nsp if data is None or len(data) != nsp + 2 else tuple(data[2:])
        return ((out[0], c) + spatial,) + (None,) * (len(ins) - 1)

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
