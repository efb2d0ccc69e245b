"""Shape and axis manipulation: Flatten, Reshape, Concat, transpose, expand_dims, squeeze,
SliceChannel, slice_axis (MXNet 1.9.1 names)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core.dims import fill_one, known, merge, norm_axis, prod
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param
from ..core.registry import Op, Result, register


# ============================================================ shape ops

@register
class Flatten(Op):
    """(N, d1, d2, ...) -> (N, d1*d2*...); (N,) -> (N, 1)."""
    aliases = ("flatten",)
    hint = "flatten"
    color = "#fdb462"

    def infer_shape(self, data):
        if data is None:
            return None
        if len(data) == 0:
            raise ShapeError("Flatten needs at least a 1-d input")
        return (data,), ((data[0], prod(data[1:])),)

    shape_back = {"data": (0,)}

    def infer_shape_backward(self, ins, outs):
        # batch dim from the output; a single unknown feature dim from the flat size
        data, out = ins[0], outs[0]
        if data is None or out is None or len(out) != 2 or not data:
            return None
        return ((out[0],) + tuple(fill_one(data[1:], out[1])),)

    def forward(self, data, *, train):
        return Result((data.reshape(data.shape[0], -1),), saved=data.shape)

    def backward(self, shape, dy):
        return (dy.reshape(shape),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3, 4)}


def reshape_rule(dshape, target, reverse):
    """MXNet's Reshape codes: 0 copy, -1 infer, -2 copy rest, -3 merge two, -4 split one."""
    src, tgt = list(dshape), list(target)
    if reverse:
        src.reverse()
        tgt.reverse()
    out, i, j, infer_at = [], 0, 0, None
    while i < len(tgt):
        code = tgt[i]
        if code == 0:
            if j >= len(src):
                raise ShapeError("Reshape code 0 at position %d has no input dim to copy" % i)
            out.append(src[j])
            j += 1
        elif code == -1:
            if infer_at is not None:
                raise ShapeError("Reshape: only one dim can be -1 (inferred)")
            infer_at = len(out)
            out.append(1)
            j += 1
        elif code == -2:
            out.extend(src[j:])
            j = len(src)
        elif code == -3:
            if j + 1 >= len(src):
                raise ShapeError("Reshape code -3 needs two input dims at position %d" % j)
            out.append(src[j] * src[j + 1])
            j += 2
        elif code == -4:
            if i + 2 >= len(tgt) or j >= len(src):
                raise ShapeError("Reshape code -4 must be followed by two dims and split an input dim")
            d0, d1, d2 = src[j], tgt[i + 1], tgt[i + 2]
            j += 1
            i += 2
            if not (d1 == -1 or d1 > 0) or not (d2 == -1 or d2 > 0):
                # MXNet divides by them (and crashes on 0); only sizes or one -1 make sense
                raise ShapeError("Reshape code -4 splits a dim into two sizes (one may be -1), "
                                 "got %d, %d" % (d1, d2))
            if d1 == -1 and d2 == -1:
                raise ShapeError("Reshape: split dims cannot both be -1")
            if d1 == -1:
                d1 = d0 // d2 if d0 % d2 == 0 else -1
            if d2 == -1:
                d2 = d0 // d1 if d0 % d1 == 0 else -1
            if d1 * d2 != d0:
                raise ShapeError("Reshape: split dims %d, %d do not divide input dim %d"
                                 % (tgt[i - 1], tgt[i], d0))
            out.extend([d1, d2])
        elif code > 0:
            out.append(code)
            j += 1
        else:
            raise ShapeError("Reshape: invalid code %d" % code)
        i += 1
    total = prod(dshape)
    if infer_at is not None:
        rest = prod(out)
        if rest == 0 or total % rest:
            # MXNet floors here (24 elements into (5, -1) gives (5, 4)); symnorm refuses
            raise ShapeError("Reshape: cannot infer the -1 dim: %d elements do not divide into "
                             "the other dims (product %d)" % (total, rest))
        out[infer_at] = total // rest
    if reverse:
        out.reverse()
    if prod(out) != total:
        raise ShapeError("Reshape: target %s has %d elements, the input %s has %d"
                         % (tuple(out), prod(out), tuple(dshape), total))
    return tuple(out)


@register
class Reshape(Op):
    """Reshape with MXNet's special codes in ``shape``: 0 copies the input dim, -1 infers
    one dim, -2 copies all remaining dims, -3 merges two dims, -4 a b splits a dim into
    (a, b) (one may be -1).  ``reverse`` matches the codes from the right."""
    aliases = ("reshape",)
    hint = "reshape"
    color = "#fdb462"
    shape: Shape = param((), doc="target shape with special codes")
    reverse: bool = param(False, doc="apply the codes from the right")
    target_shape: Shape = param((), doc="deprecated: use shape")
    keep_highest: bool = param(False, doc="deprecated: use shape")

    def check(self):
        bad = [c for c in self.shape if c < -4]
        if bad:
            raise ParamError("shape code %d is not one of MXNet's (0, -1, -2, -3, -4 or a "
                             "positive size)" % bad[0])
        # the deprecated target_shape has no codes: sizes, and one 0 for the inferred dim
        free = self.target_shape[1:] if self.keep_highest else self.target_shape
        if any(c < 0 for c in self.target_shape) or sum(c == 0 for c in free) > 1:
            raise ParamError("target_shape %s: sizes and at most one 0 (the inferred dim) "
                             "expected%s" % (tuple(self.target_shape), ", after its first entry"
                                             " (keep_highest)" if self.keep_highest else ""))

    def _legacy(self, data):
        """MXNet's old API: ``target_shape`` with one 0 inferred from the size;
        ``keep_highest`` puts the input's first dim in place of target_shape[0]."""
        out = list(self.target_shape)
        if self.keep_highest:
            out[0] = data[0]
        zero = [i for i in range(1 if self.keep_highest else 0, len(out)) if out[i] == 0]
        total = prod(data)
        if zero:
            rest = prod(d for i, d in enumerate(out) if i != zero[0])
            if rest == 0 or total % rest:
                raise ShapeError("Reshape: cannot infer the 0 dim of target_shape %s: %d elements "
                                 "do not divide into the other dims" % (tuple(self.target_shape), total))
            out[zero[0]] = total // rest
        if prod(out) != total:
            # MXNet 1.9.1 lets this through at shape inference (docs/porting.md)
            raise ShapeError("Reshape: target_shape %s gives %s, %d elements; the input %s has %d"
                             % (tuple(self.target_shape), tuple(out), prod(out), tuple(data), total))
        return tuple(out)

    def infer_shape(self, data):
        if not known(data):
            return None
        if not self.shape and self.target_shape:
            return (data,), (self._legacy(data),)
        return (data,), (reshape_rule(data, self.shape, self.reverse),)

    shape_back = {}      # one unknown input dim, from the output's size (when known)

    def infer_shape_backward(self, ins, outs):
        data, out = ins[0], outs[0]
        if data is None or not known(out):
            return None
        return (fill_one(data, prod(out)),)

    def forward(self, data, *, train):
        (out,) = self.infer_shape(data.shape)[1]
        return Result((data.reshape(out),), saved=data.shape)

    def backward(self, shape, dy):
        return (dy.reshape(shape),)

    @classmethod
    def examples(cls):
        yield {"shape": (0, -1)}, {"data": (2, 3, 4)}
        yield {"shape": (-4, 1, 2, -2)}, {"data": (2, 3, 4)}


@register
class Concat(Op):
    """Join inputs along ``dim``; every other dim must agree.  Backward splits the gradient."""
    aliases = ("concat",)
    hint = "concat"
    variadic = "num_args"
    color = "#fdb462"
    num_args: int = param(doc="number of inputs", check=lambda v: None if v >= 1 else "must be >= 1")
    dim: int = param(1, doc="the axis to join")

    def infer_shape(self, *shapes):
        ref = next((s for s in shapes if s is not None), None)
        if ref is None:
            return None
        nd = len(ref)
        if not -nd <= self.dim < nd:
            raise ShapeError("dim %d out of range for %d-d inputs" % (self.dim, nd))
        d = self.dim % nd
        common = None
        for i, s in enumerate(shapes):
            if s is None:
                continue
            masked = tuple(None if k == d else v for k, v in enumerate(s))
            try:
                common = merge(common, masked)
            except ShapeError:
                raise ShapeError("Incompatible input shape: input %d has shape %s, expected %s off "
                                 "dim %d" % (i, s, tuple("?" if v is None else v for v in common), d)) from None
        if any(s is None for s in shapes):
            return tuple(None if s is None else tuple(common[k] if k != d else s[k]
                                                      for k in range(nd)) for s in shapes), ()
        total = sum(s[d] for s in shapes) if all(s[d] is not None for s in shapes) else None
        out = tuple(total if k == d else v for k, v in enumerate(common))
        ins = tuple(tuple(s[k] if k == d else common[k] for k in range(nd)) for s in shapes)
        return ins, (out,)

    def shape_back_axes(self):
        # the non-concat dims of every input; with one input, the concat dim too
        return {s: "all" for s in self.arguments()} if self.num_args == 1 else {}

    def infer_shape_backward(self, ins, outs):
        # the output's other dims are every input's; one unknown concat dim is the
        # output's minus the others'
        out = outs[0]
        if out is None:
            return None
        nd = len(out)
        if not -nd <= self.dim < nd:
            raise ShapeError("dim %d out of range for %d-d output" % (self.dim, nd))
        d = self.dim % nd
        res = [tuple(None if k == d else v for k, v in enumerate(out)) if s is None
               else tuple(s[k] if k == d else out[k] for k in range(nd)) if len(s) == nd
               else s for s in ins]
        sizes = [s[d] for s in res]
        unknown = [i for i, v in enumerate(sizes) if v is None]
        if len(unknown) == 1 and out[d] is not None:
            rest = sum(v for v in sizes if v is not None)
            if rest > out[d]:
                raise ShapeError("inputs' dim %d sizes add up to %d, more than the output's %d"
                                 % (d, rest, out[d]))
            i = unknown[0]
            res[i] = tuple(out[d] - rest if k == d else v for k, v in enumerate(res[i]))
        return tuple(res)

    def forward(self, *data, train):
        return Result((np.concatenate(data, axis=self.dim),),
                      saved=[a.shape[self.dim] for a in data])

    def backward(self, sizes, dy):
        return tuple(np.split(dy, np.cumsum(sizes)[:-1], axis=self.dim))

    @classmethod
    def examples(cls):
        yield {"num_args": 2, "dim": 1}, {"arg0": (2, 1, 3), "arg1": (2, 2, 3)}


# ============================================================ axes

@register
class transpose(Op):
    """Permute axes (reverse them when ``axes`` is empty).  Always a new C-contiguous
    array (the layout pass's region boundaries rely on it)."""
    axes: Shape = param((), doc="the permutation; () reverses")

    def perm(self, ndim):
        if not self.axes:
            return tuple(reversed(range(ndim)))
        if len(self.axes) != ndim or sorted(a % ndim for a in self.axes) != list(range(ndim)):
            raise ShapeError("axes %s is not a permutation of %d dims" % (self.axes, ndim))
        return tuple(a % ndim for a in self.axes)

    def infer_shape(self, data):
        if data is None:
            return None
        return (data,), (tuple(data[i] for i in self.perm(len(data))),)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        if out is None:
            return None
        inv = np.argsort(self.perm(len(out)))
        return (tuple(out[i] for i in inv),)

    def forward(self, data, *, train):
        return Result((data.transpose(self.perm(data.ndim)).copy(order="C"),))

    def backward(self, saved, dy):
        return (dy.transpose(tuple(np.argsort(self.perm(dy.ndim)))).copy(order="C"),)

    @classmethod
    def examples(cls):
        yield {"axes": (2, 0, 1)}, {"data": (2, 3, 4)}
        yield {}, {"data": (2, 3)}


@register
class expand_dims(Op):
    """Insert a size-1 axis at ``axis``."""
    axis: int = param(doc="position of the new axis")

    def infer_shape(self, data):
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data) + 1)
        return (data,), (tuple(data[:ax]) + (1,) + tuple(data[ax:]),)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        if not out:
            return None
        ax = norm_axis(self.axis, len(out))
        return (tuple(out[:ax]) + tuple(out[ax + 1:]),)

    def forward(self, data, *, train):
        return Result((np.expand_dims(data, self.axis),), None, data.shape)

    def backward(self, shape, dy):
        return (dy.reshape(shape),)

    @classmethod
    def examples(cls):
        yield {"axis": 1}, {"data": (2, 3)}


@register
class squeeze(Op):
    """Remove size-1 axes (those in ``axis``, or all); removing every axis gives shape (1,),
    as MXNet 1.x (never 0-d)."""
    axis: Shape = param((), doc="axes to remove; () removes every size-1 axis")

    def infer_shape(self, data):
        if not known(data):
            return None
        axes = tuple(norm_axis(a, len(data)) for a in self.axis) if self.axis else \
            tuple(i for i, d in enumerate(data) if d == 1)
        for a in axes:
            if data[a] != 1:
                raise ShapeError("cannot squeeze axis %d of size %d" % (a, data[a]))
        return (data,), (tuple(d for i, d in enumerate(data) if i not in axes) or (1,),)

    def shape_back_axes(self):
        return {"data": "all"} if self.axis else {}

    def infer_shape_backward(self, ins, outs):
        # with explicit axes: the output's dims with 1s put back (rank known from either side)
        out = outs[0]
        if out is None or not self.axis or tuple(out) == (1,):     # (1,): all squeezed, or not
            return None
        nd = len(out) + len(set(self.axis))
        axes = {norm_axis(a, nd) for a in self.axis}
        it = iter(out)
        return (tuple(1 if i in axes else next(it) for i in range(nd)),)

    def forward(self, data, *, train):
        (out,) = self.infer_shape(data.shape)[1]
        return Result((data.reshape(out),), None, data.shape)

    def backward(self, shape, dy):
        return (dy.reshape(shape),)

    @classmethod
    def examples(cls):
        yield {"axis": (1,)}, {"data": (2, 1, 3)}


@register
class SliceChannel(Op):
    """Split ``data`` into ``num_outputs`` equal parts along ``axis`` (``squeeze_axis``
    drops the axis when each part has size 1)."""
    aliases = ("split",)
    variadic_outputs = "num_outputs"
    num_outputs: int = param(doc="number of parts", check=lambda v: None if v >= 1 else "must be >= 1")
    axis: int = param(1)
    squeeze_axis: bool = param(False)

    def output_names(self):
        return tuple("output%d" % i for i in range(self.num_outputs))

    def infer_shape(self, data):
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data))
        d = data[ax]
        if d is not None and d % self.num_outputs:
            raise ShapeError("axis %d of size %d does not split into %d equal parts"
                             % (self.axis, d, self.num_outputs))
        part = None if d is None else d // self.num_outputs
        if self.squeeze_axis and part is not None and part != 1:
            raise ShapeError("squeeze_axis needs parts of size 1, got %d" % part)
        out = tuple(data[:ax]) + (() if self.squeeze_axis else (part,)) + tuple(data[ax + 1:])
        return (data,), (out,) * self.num_outputs

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        # every part has data's other dims; the split axis is num_outputs parts long
        common = None
        for j, s in enumerate(outs):
            common = merge(common, s, "output %d" % j)
        if common is None:
            return None
        nd = len(common) + (1 if self.squeeze_axis else 0)
        ax = norm_axis(self.axis, nd)
        if self.squeeze_axis:
            d = self.num_outputs
            rest = tuple(common)
        else:
            d = None if common[ax] is None else common[ax] * self.num_outputs
            rest = tuple(common[:ax]) + tuple(common[ax + 1:])
        return (rest[:ax] + (d,) + rest[ax:],)

    def forward(self, data, *, train):
        parts = np.split(data, self.num_outputs, axis=self.axis)
        if self.squeeze_axis:
            parts = [p.squeeze(axis=self.axis) for p in parts]
        return Result(tuple(np.ascontiguousarray(p) for p in parts), None, data.shape)

    def backward(self, shape, *dys):
        ax = norm_axis(self.axis, len(shape))
        part = list(shape)
        part[ax] //= self.num_outputs
        gs = [np.zeros(part, np.result_type(*[d for d in dys if d is not None])) if d is None
              else d.reshape(part) for d in dys]
        return (np.concatenate(gs, axis=ax),)

    @classmethod
    def examples(cls):
        yield {"num_outputs": 2, "axis": 1}, {"data": (2, 4, 3)}
        yield {"num_outputs": 3, "axis": 0, "squeeze_axis": True}, {"data": (3, 2)}


@register
class slice_axis(Op):
    """data[..., begin:end, ...] along ``axis`` (``end=None``: to the end)."""
    axis: int = param()
    begin: int = param()
    end: Optional[int] = param(None)

    def _range(self, d):
        return range(d)[slice(self.begin, self.end)]

    def infer_shape(self, data):
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data))
        n = None
        if data[ax] is not None:
            n = len(self._range(data[ax]))
            if n == 0:
                raise ShapeError("slice [%s:%s] of an axis of size %d is empty"
                                 % (self.begin, self.end, data[ax]))
        return (data,), (tuple(data[:ax]) + (n,) + tuple(data[ax + 1:]),)

    def shape_back_axes(self):
        # every axis but the sliced one (given as a negative axis: valid whatever the rank)
        return {} if self.axis >= 0 else {"data": "all-but-%d" % self.axis}

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        if out is None:
            return None
        ax = norm_axis(self.axis, len(out))
        return (tuple(None if i == ax else d for i, d in enumerate(out)),)

    def _index(self, ndim):
        ax = self.axis % ndim
        return (slice(None),) * ax + (slice(self.begin, self.end),)

    def forward(self, data, *, train):
        return Result((np.ascontiguousarray(data[self._index(data.ndim)]),), None, data.shape)

    def backward(self, shape, dy):
        dx = np.zeros(shape, dy.dtype)
        dx[self._index(len(shape))] = dy
        return (dx,)

    @classmethod
    def examples(cls):
        yield {"axis": 1, "begin": 1, "end": 3}, {"data": (2, 4, 3)}
        yield {"axis": -1, "begin": -2}, {"data": (2, 5)}
