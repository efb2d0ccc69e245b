"""Convolution and Deconvolution, with MXNet 1.9.1's semantics: params, shape rules and
plain reference forward/backward (``spatial_reference``).  The fast im2col/BLAS kernels,
channels-first and batch-last, are in ``symnorm.runtime.kernels.conv``.
"""
from __future__ import annotations

from typing import Optional


from ..core.dims import dim_op, known
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param, positive, all_positive, all_non_negative
from ..core.registry import Result, register
from . import spatial_reference as R
from .spatial import _LAYOUTS, _Spatial, _expand


@register
class Convolution(_Spatial):
    """N-d convolution (1-D NCW, 2-D NCHW, 3-D NCDHW), with groups and dilation.

    out[n, f] = Σ_{c, k} W[f, c, k] · x_pad[n, g(f)·C/G + c, s·o + d·k] + b[f];
    output size per spatial axis: floor((H + 2p - d·(k-1) - 1) / s) + 1.
    W has shape (num_filter, C/num_group, *kernel)."""
    summary_params = True
    inputs = ("data", "weight", "bias")
    color = "#fb8072"
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
                                  doc="channels-first, the only layout MXNet's CPU "
                                      "convolution takes")

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
                             % (nsp, nsp + 2, "N, C, spatial...", data))
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
        sp = tuple(i + 2 for i, st in enumerate(stride) if st == 1)
        return {"data": (0, 1) + sp}

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

    def forward(self, data, weight, bias=None, *, train):
        return Result((R.conv_forward(self, data, weight, bias),), None, (data, weight))

    def backward(self, saved, dy):
        data, weight = saved
        dx, dw, db = R.conv_backward(self, data, weight, dy)
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
        return Result((R.deconv_forward(self, data, weight, bias),), None, (data, weight))

    def backward(self, saved, dy):
        data, weight = saved
        dx, dw, db = R.deconv_backward(self, data, weight, dy)
        return (dx, dw) if self.no_bias else (dx, dw, db)

    def label(self, node_name):
        stride = "x".join(map(str, self.stride)) if self.stride else "1"
        return "Deconvolution\n%s/%s, %d" % ("x".join(map(str, self.kernel)), stride, self.num_filter)

    @classmethod
    def examples(cls):
        yield {"kernel": (3, 3), "num_filter": 2, "no_bias": False}, {"data": (2, 3, 4, 5)}
        yield {"kernel": (4, 3), "num_filter": 4, "stride": (2, 2), "pad": (1, 1), "adj": (1, 0),
               "num_group": 2}, {"data": (1, 2, 3, 4)}
        yield {"kernel": (3,), "num_filter": 2, "stride": (2,), "target_shape": (8,)}, {"data": (2, 3, 4)}
