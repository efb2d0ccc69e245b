"""Pooling (max, avg, sum, lp; 1-d to 3-d; MXNet 1.9.1's conventions): strided window
reads forward, one strided slice-add per kernel offset backward: plain references here
(``spatial_reference``), the fast kernel in ``symnorm.runtime.kernels.pool``."""
from __future__ import annotations

from typing import Optional

from ..core.dims import known
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param, all_positive, all_non_negative
from ..core.registry import Result, register
from . import spatial_reference as R
from .spatial import _LAYOUTS, _Spatial, _expand


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
    color = "#80b1d3"
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
                                  doc="channels-first, the only layout MXNet's CPU "
                                      "pooling takes")

    def check(self):
        if not self.global_pool and not self.kernel:
            raise ParamError("param 'kernel' is required unless global_pool=True (0D pooling not supported)")
        n = len(self.kernel)
        if n > 3:
            raise ParamError("param 'kernel' must have 1, 2 or 3 dims, got %r" % (self.kernel,))
        if self.pooling_convention == "same" and any(self.pad):
            raise ParamError("pooling_convention='same' pads by itself: param 'pad' must be 0, "
                             "got %r" % (self.pad,))
        for name in ("stride", "pad"):
            v = getattr(self, name)
            if name == "pad" and self.pooling_convention == "same":
                continue        # all zeros (checked above), of any length as MXNet reads it
            if v and n and len(v) != n:
                raise ParamError("param %r has %d dims but kernel %r has %d"
                                 % (name, len(v), self.kernel, n))
        if self.pool_type == "lp" and not self.p_value:
            raise ParamError("pool_type='lp' needs p_value")
        if n:
            self._check_layout(n)

    def output_names(self):
        return ("output", "workspace") if self.pool_type == "max" else ("output",)

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

    shape_back = {"data": (0, 1)}

    def infer_shape_backward(self, ins, outs):
        # batch and channels pass through; the window decides only the spatial dims
        data, out = ins[0], outs[0]
        if out is None or len(out) < 3 or (data is not None and len(data) != len(out)):
            return None
        n, c, spatial = self._split(out)
        spatial = (None,) * len(spatial) if data is None else self._split(data)[2]
        return (self._join(n, c, spatial),)

    def forward(self, data, *, train):
        y = R.pool_forward(self, data)
        return Result((y,) * len(self.output_names()), None, (data, y))

    def backward(self, saved, dy):
        data, y = saved
        return (R.pool_backward(self, data, y, dy),)

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
