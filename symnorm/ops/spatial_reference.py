"""Plain reference forward and backward of Convolution, Deconvolution and Pooling.

What these ops *mean*, written for reading, not speed: plain numpy on channels-first
arrays ``(N, C, *S)`` with 1, 2 or 3 spatial axes; no buffers, threads or layouts.  Each
function takes the op (its params: kernel, stride, dilate, pad, num_group, adj,
target_shape, pool_type, ...) and computes in the input dtype.  Semantics are MXNet
1.9.1's, as symnorm's optimized kernels implement them.

Notation, per spatial axis: kernel k, stride s, dilation d, padding p, input size H,
output position o, kernel offset κ; ``xp`` is the input zero-padded by p on both sides.

The window view and its adjoint (everything below is built from these two)::

    windows(xp)[n, c, o, κ] = xp[n, c, s·o + d·κ]                       (im2col)
    col2im(cols)[n, c, i]   = Σ_{o, κ : s·o + d·κ = i} cols[n, c, o, κ]  (its transpose)

Convolution (G groups; W: (F, C/G, *K); channel c of group g is g·C/G + c)::

    O = floor((H + 2p - d·(k-1) - 1) / s) + 1
    y[n, g·F/G + f, o] = Σ_{c, κ} W[g·F/G + f, c, κ] · windows(xp)[n, g·C/G + c, o, κ] + b[f]
    dW = Σ_{n, o} dy · windows(xp);   db[f] = Σ_{n, o} dy[n, f, o]
    dx = col2im(Σ_f W · dy)  cropped by p on each side

Deconvolution (the transpose of Convolution; W: (C, F/G, *K))::

    full = s·(H-1) + d·(k-1) + 1 + adj;   O = s·(H-1) + d·(k-1) + 1 - 2p + adj = full - 2p
    y = col2im(Σ_c W · x) over a (N, F, *full) grid, cropped to [p, p + O), + b
    (``target_shape`` chooses p and adj: total = full - target, p = ceil(total/2), adj = total % 2;
     ``Deconvolution._plan`` computes them)
    dy_full = dy placed at [p, p + O) in zeros (N, F, *full);  cols = windows(dy_full) with H outputs
    dx = Σ_f W · cols;  dW = Σ_{n, i} x · cols;  db = Σ dy

Pooling (``Pooling._window`` gives k, s, p, O and the extra right padding e)::

    valid: O = floor((H + 2p - k)/s) + 1;   full: O = ceil((H + 2p - k)/s) + 1;   same: O = ceil(H/s)
    xp = x padded by p on the left and p + e on the right, with -inf for max, 0 otherwise
    max: y = max_κ windows(xp);  dx routes dy[o] to the FIRST κ (row-major) where the window
         equals y[o] (nowhere when y[o] is NaN)
    sum: y = Σ_κ windows(xp);    dx = col2im(dy broadcast over κ)
    avg: y = sum / count, count = Π_axes (min(start + k, H + p) - start) with start = s·o - p
         (the window clipped to the symmetrically padded input; count_include_pad, the default);
         with count_include_pad=False count = Π_axes (min(start + k, H) - max(start, 0));
         dx = col2im(dy / count)
    lp:  y = (Σ_κ |windows(xp)|^p)^(1/p);  dx = col2im(sign(x)·|x|^(p-1) · dy / y^(p-1)), 0 where y = 0
    global_pool: one window covering all of S (k = H, s = 1, p = 0).
"""
from __future__ import annotations

import itertools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ("conv_forward", "conv_backward", "deconv_forward", "deconv_backward",
           "pool_forward", "pool_backward")


# -- shared pieces ------------------------------------------------------------

def _per_axis(value, nsp, default):
    """A per-axis param: () means ``default`` on every spatial axis."""
    return tuple(value) if len(value) else (default,) * nsp


def _geometry(op):
    """(kernel, stride, dilate, pad) of a Convolution or Deconvolution, one entry per axis."""
    nsp = len(op.kernel)
    return (tuple(op.kernel), _per_axis(op.stride, nsp, 1), _per_axis(op.dilate, nsp, 1),
            _per_axis(op.pad, nsp, 0))


def _pad(x, left, right, value=0):
    """x with its spatial axes (2, 3, ...) padded by ``left``/``right`` elements of ``value``."""
    return np.pad(x, ((0, 0), (0, 0)) + tuple(zip(left, right)), constant_values=value)


def _crop(xp, left, size):
    """The spatial region [left, left + size) of a padded array."""
    return xp[(slice(None), slice(None)) + tuple(slice(p, p + h) for p, h in zip(left, size))]


def _windows(xp, kernel, stride, dilate, out):
    """The (N, C, *out, *kernel) view win[n, c, o, κ] = xp[n, c, s·o + d·κ] (no copy)."""
    nsp = len(kernel)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilate))
    view = sliding_window_view(xp, span, axis=tuple(range(2, 2 + nsp)))
    return view[(slice(None), slice(None))
                + tuple(slice(0, s * (o - 1) + 1, s) for s, o in zip(stride, out))
                + tuple(slice(None, None, d) for d in dilate)]


def _col2im(cols, shape, stride, dilate):
    """The adjoint of ``_windows``: a zero array of ``shape`` (N, C, *S) where every
    cols[n, c, o, κ] is added at position s·o + d·κ; one strided slice-add per offset κ."""
    nsp = len(stride)
    out, kernel = cols.shape[2:2 + nsp], cols.shape[2 + nsp:]
    acc = np.zeros(shape, cols.dtype)
    for off in itertools.product(*(range(k) for k in kernel)):
        target = tuple(slice(d * j, d * j + s * (o - 1) + 1, s)
                       for j, s, d, o in zip(off, stride, dilate, out))
        acc[(slice(None), slice(None)) + target] += cols[(Ellipsis,) + off]
    return acc


def _letters(nsp):
    """einsum subscripts for the output positions and the kernel offsets of ``nsp`` axes."""
    return "xyz"[:nsp], "uvw"[:nsp]


def _grouped(a, groups):
    """(N, C, ...) -> (N, G, C/G, ...): the channel axis split into groups."""
    return a.reshape((a.shape[0], groups, a.shape[1] // groups) + a.shape[2:])


def _ungrouped(a):
    """(N, G, C/G, ...) -> (N, C, ...)."""
    return a.reshape((a.shape[0], a.shape[1] * a.shape[2]) + a.shape[3:])


def _bias_shape(nsp):
    return (1, -1) + (1,) * nsp


# -- Convolution --------------------------------------------------------------

def _conv_windows(op, data):
    """The padded input's windows (N, C, *O, *K) and the padded shape."""
    kernel, stride, dilate, pad = _geometry(op)
    out = op._out_dims(data.shape[2:])          # the op's size rule (raises ShapeError)
    xp = _pad(data, pad, pad)
    return _windows(xp, kernel, stride, dilate, out), xp.shape


def conv_forward(op, data, weight, bias=None):
    """Convolution's output (N, F, *O) for data (N, C, *S), weight (F, C/G, *K), bias (F,) or None."""
    g, nsp = op.num_group, len(op.kernel)
    win, _ = _conv_windows(op, data)
    o, k = _letters(nsp)
    w = weight.reshape((g, -1) + weight.shape[1:])                           # (G, F/G, C/G, *K)
    y = _ungrouped(np.einsum("ngc%s%s,gfc%s->ngf%s" % (o, k, k, o), _grouped(win, g), w, optimize=True))
    if bias is not None:
        y = y + bias.reshape(_bias_shape(nsp))
    return y.astype(data.dtype, copy=False)


def conv_backward(op, data, weight, dy):
    """(ddata, dweight, dbias or None) of Convolution, for the output gradient dy (N, F, *O)."""
    kernel, stride, dilate, pad = _geometry(op)
    g, nsp = op.num_group, len(kernel)
    win, padded_shape = _conv_windows(op, data)
    o, k = _letters(nsp)
    w = weight.reshape((g, -1) + weight.shape[1:])                           # (G, F/G, C/G, *K)
    dyg = _grouped(dy, g)                                                    # (N, G, F/G, *O)
    dweight = np.einsum("ngf%s,ngc%s%s->gfc%s" % (o, o, k, k), dyg, _grouped(win, g), optimize=True)
    dcols = np.einsum("gfc%s,ngf%s->ngc%s%s" % (k, o, o, k), w, dyg, optimize=True)
    dxp = _col2im(_ungrouped(dcols), padded_shape, stride, dilate)
    ddata = _crop(dxp, pad, data.shape[2:])
    dbias = None if op.no_bias else dy.sum(axis=(0,) + tuple(range(2, 2 + nsp)))
    return (ddata.astype(data.dtype, copy=False),
            dweight.reshape(weight.shape).astype(weight.dtype, copy=False), dbias)


# -- Deconvolution ------------------------------------------------------------

def _deconv_plan(op, spatial):
    """(pad, output sizes, the uncropped size ``full`` per axis) of a Deconvolution."""
    kernel, stride, dilate, _ = _geometry(op)
    pad, adj, out = op._plan(spatial)           # pad/adj from target_shape when given
    full = tuple(s * (h - 1) + d * (k - 1) + 1 + a
                 for h, k, s, d, a in zip(spatial, kernel, stride, dilate, adj))
    return pad, out, full


def deconv_forward(op, data, weight, bias=None):
    """Deconvolution's output (N, F, *O) for data (N, C, *S), weight (C, F/G, *K), bias (F,) or None."""
    kernel, stride, dilate, _ = _geometry(op)
    g, nsp = op.num_group, len(kernel)
    pad, out, full = _deconv_plan(op, data.shape[2:])
    i, k = _letters(nsp)
    w = weight.reshape((g, -1) + weight.shape[1:])                           # (G, C/G, F/G, *K)
    # every input position spreads W-weighted copies over its (dilated) kernel footprint
    cols = _ungrouped(np.einsum("gcf%s,ngc%s->ngf%s%s" % (k, i, i, k), w, _grouped(data, g),
                                optimize=True))                              # (N, F, *S, *K)
    y = _crop(_col2im(cols, (data.shape[0], op.num_filter) + full, stride, dilate), pad, out)
    if bias is not None:
        y = y + bias.reshape(_bias_shape(nsp))
    return np.ascontiguousarray(y, dtype=data.dtype)


def deconv_backward(op, data, weight, dy):
    """(ddata, dweight, dbias or None) of Deconvolution, for the output gradient dy (N, F, *O)."""
    kernel, stride, dilate, _ = _geometry(op)
    g, nsp = op.num_group, len(kernel)
    pad, out, full = _deconv_plan(op, data.shape[2:])
    dy_full = _pad(dy, pad, tuple(f - p - o for f, p, o in zip(full, pad, out)))
    # the positions each input element wrote to, read back (positions past the last
    # window, which adj can leave, are read by nobody)
    cols = _grouped(_windows(dy_full, kernel, stride, dilate, data.shape[2:]), g)   # (N, G, F/G, *S, *K)
    i, k = _letters(nsp)
    w = weight.reshape((g, -1) + weight.shape[1:])                           # (G, C/G, F/G, *K)
    ddata = _ungrouped(np.einsum("gcf%s,ngf%s%s->ngc%s" % (k, i, k, i), w, cols, optimize=True))
    dweight = np.einsum("ngc%s,ngf%s%s->gcf%s" % (i, i, k, k), _grouped(data, g), cols, optimize=True)
    dbias = None if op.no_bias else dy.sum(axis=(0,) + tuple(range(2, 2 + nsp)))
    return (ddata.astype(data.dtype, copy=False),
            dweight.reshape(weight.shape).astype(weight.dtype, copy=False), dbias)


# -- Pooling ------------------------------------------------------------------

def _pool_windows(op, data):
    """(windows (N, C, *O, *K) of the padded input, the padded shape, the window geometry)."""
    kernel, stride, pad, out, extra = geom = op._window(data.shape[2:])
    fill = -np.inf if op.pool_type == "max" else 0
    xp = _pad(data, pad, tuple(p + e for p, e in zip(pad, extra)), fill)
    return _windows(xp, kernel, stride, (1,) * len(kernel), out), xp.shape, geom


def _window_counts(op, spatial, geom, dtype):
    """What average pooling divides each output by, (*O): the window's size clipped to the
    symmetrically padded input (count_include_pad, the default), or its in-input part."""
    kernel, stride, pad, out, _ = geom
    count = np.ones((), np.int64)
    for h, k, s, p, o in zip(spatial, kernel, stride, pad, out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, h + p)
        n = end - start if op.count_include_pad is not False else np.minimum(end, h) - np.maximum(start, 0)
        count = np.multiply.outer(count, n)
    return count.astype(dtype)


def pool_forward(op, data):
    """Pooling's output (N, C, *O) for data (N, C, *S).  Backward needs only data and this
    output (max pooling's ``workspace`` output is the same array)."""
    win, _, geom = _pool_windows(op, data)
    nsp = data.ndim - 2
    kaxes = tuple(range(2 + nsp, 2 + 2 * nsp))
    if op.pool_type == "max":
        y = win.max(axis=kaxes)
    elif op.pool_type == "sum":
        y = win.sum(axis=kaxes)
    elif op.pool_type == "avg":
        y = win.sum(axis=kaxes) / _window_counts(op, data.shape[2:], geom, data.dtype)
    else:                                                        # lp
        p = op.p_value
        y = np.power((np.abs(win) ** p).sum(axis=kaxes), 1.0 / p)
    return np.ascontiguousarray(y, dtype=data.dtype)


def pool_backward(op, data, y, dy):
    """Pooling's input gradient (N, C, *S), from data, the forward output y and its gradient dy."""
    win, padded_shape, geom = _pool_windows(op, data)
    kernel, stride, pad, _, _ = geom
    nsp = data.ndim - 2
    spread = (Ellipsis,) + (None,) * nsp             # an (N, C, *O) array against (N, C, *O, *K)
    if op.pool_type == "max":
        flat = win.reshape(win.shape[:2 + nsp] + (-1,))           # kernel offsets row-major
        hit = flat == y[..., None]
        first = np.arange(flat.shape[-1]) == hit.argmax(axis=-1)[..., None]
        routed = first & hit.any(axis=-1)[..., None]              # none when y is NaN
        dcols = (routed * dy[..., None]).reshape(win.shape)
    elif op.pool_type == "sum":
        dcols = np.broadcast_to(dy[spread], win.shape)
    elif op.pool_type == "avg":
        dcols = np.broadcast_to((dy / _window_counts(op, data.shape[2:], geom, dy.dtype))[spread], win.shape)
    else:                                                        # lp: d/dx (Σ|x|^p)^(1/p)
        p = op.p_value
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(y > 0, dy / np.power(y, p - 1), 0)
        dcols = np.sign(win) * np.power(np.abs(win), p - 1) * scale[spread]
    dxp = _col2im(dcols.astype(dy.dtype, copy=False), padded_shape, stride, (1,) * nsp)
    return np.ascontiguousarray(_crop(dxp, pad, data.shape[2:]))
