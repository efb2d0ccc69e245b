"""``import_model``: an ONNX file -> ``(sym, arg_params, aux_params)`` (MXNet's
``mx.contrib.onnx.import_model``).

Each ONNX node is handed to ``IMPORTERS[op_type]`` (``imp_*.py``).  Tensors are either
symbolic (a symnorm Symbol) or constant (numpy: initializers, Constant nodes, and what
folds from them, e.g. ``Shape`` of a tensor whose static shape ONNX shape inference
knows, as torch.onnx writes for ``flatten``).  Constants that feed a weight slot become
Variables with values in ``arg_params`` (BatchNormalization's mean/var in ``aux_params``)."""
from __future__ import annotations

import os
import re

import numpy as np

from symnorm import sym as S
from symnorm.errors import SymnormError
from symnorm import Symbol

from . import imp_index, imp_more, imp_nn, imp_tensor
from .errors import OnnxImportError

IMPORTERS = {**imp_nn.IMPORTERS, **imp_tensor.IMPORTERS, **imp_more.IMPORTERS, **imp_index.IMPORTERS}
"""ONNX op_type -> importer(ctx, node) -> list of outputs (Symbol or numpy constant)."""


class ImportContext:
    """What importers see: values of tensors, attributes, static shapes, parameters."""

    def __init__(self, shapes: dict):
        self.values = {}           # onnx tensor name -> Symbol or np.ndarray
        self.shapes = shapes       # onnx tensor name -> static shape (dims may be None)
        self.arg_params = {}
        self.aux_params = {}
        self.param_of = {}         # onnx tensor name -> variable name already made for it
        self.taken = set()
        self.node = None
        self.name = None           # symnorm name of the node being imported

    def fail(self, why: str):
        raise OnnxImportError("cannot import ONNX node %r (%s): %s"
                              % (self.node.name, self.node.op_type, why))

    def fresh(self, base: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.\-]+", "_", base).strip("_") or "node"
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = "%s%d" % (base, k)
        self.taken.add(name)
        return name

    # ------------------------------------------------------------------ inputs
    def has(self, i: int) -> bool:
        return i < len(self.node.input) and self.node.input[i] != ""

    def const(self, i: int):
        """The constant value of input ``i`` (None if computed at run time or absent)."""
        if not self.has(i):
            return None
        v = self.values[self.node.input[i]]
        return None if isinstance(v, Symbol) else v

    def need_const(self, i: int, what: str):
        v = self.const(i)
        if v is None:
            self.fail("%s (input %d) must be a constant" % (what, i))
        return v

    def sym(self, i: int, slot: str = "const") -> Symbol:
        """Input ``i`` as a Symbol: a constant becomes a Variable holding it."""
        tensor = self.node.input[i]
        v = self.values[tensor]
        if isinstance(v, Symbol):
            return v
        return self.param(i, slot)

    def param(self, i: int, slot: str, value=None, aux: bool = False) -> Symbol:
        """A Variable ``<node>_<slot>`` holding input ``i``'s constant (or ``value``, a
        transformed copy such as a transposed weight)."""
        tensor = self.node.input[i]
        shared = value is None
        if shared:
            if tensor in self.param_of:          # one variable per shared ONNX weight
                return self.param_of[tensor]
            value = self.need_const(i, slot)
        name = self.fresh("%s_%s" % (self.name, slot))
        if value.dtype.kind not in "biuf":      # numpy's cast would drop an imaginary part
            raise OnnxImportError("import_model: node %r: input %r is a %s tensor; symnorm "
                                  "parameters are real numbers" % (self.name, tensor, value.dtype))
        arr = np.array(value, dtype=value.dtype if value.dtype.kind == "f" else np.float32)
        (self.aux_params if aux else self.arg_params)[name] = arr
        var = S.Variable(name)
        if shared:
            self.param_of[tensor] = var
        return var

    def shape(self, i: int):
        return self.shapes.get(self.node.input[i])

    def attrs(self) -> dict:
        from onnx import helper
        return {a.name: helper.get_attribute_value(a) for a in self.node.attribute}


def _static_shapes(model) -> dict:
    import onnx
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:              # best effort: shapes only help constant folding
        inferred = model
    out = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            out[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
    return out


def _load(model_file):
    import onnx
    if isinstance(model_file, onnx.ModelProto):
        return model_file
    path = os.fspath(model_file)
    if not os.path.exists(path):
        raise OnnxImportError("import_model: no such file: %s" % path)
    try:
        return onnx.load(path)
    except Exception as exc:
        raise OnnxImportError("import_model: %s is not a readable ONNX model: %s" % (path, exc)) from None


def import_model(model_file):
    """Read an ONNX model (a path or an ``onnx.ModelProto``) as ``(sym, arg_params,
    aux_params)``, numpy arrays keyed by symnorm variable names.  Graph inputs that are
    not initializers become data Variables of the same name (characters outside
    ``[A-Za-z0-9_.-]`` replaced by ``_``: ``in:0`` becomes ``in_0``)."""
    from onnx import numpy_helper
    model = _load(model_file)
    for imp in model.opset_import:
        if imp.domain not in ("", "ai.onnx"):
            raise OnnxImportError("import_model: operator set domain %r is not supported (only "
                                  "the default ONNX domain)" % imp.domain)
    g = model.graph
    ctx = ImportContext(_static_shapes(model))
    for t in g.initializer:
        ctx.values[t.name] = numpy_helper.to_array(t)
    for vi in g.input:
        if vi.name not in ctx.values:
            ctx.values[vi.name] = S.Variable(ctx.fresh(vi.name))
    for node in g.node:
        ctx.node = node
        ctx.name = ctx.fresh(node.name.replace("/", "_") or node.op_type.lower())
        convert = IMPORTERS.get(node.op_type)
        if convert is None:
            ctx.fail("op type %r has no symnorm translation (supported: %s)"
                     % (node.op_type, ", ".join(sorted(IMPORTERS))))
        for i in node.input:
            if i and i not in ctx.values:
                ctx.fail("input %r is not produced by any earlier node" % i)
        try:
            outs = convert(ctx, node)
        except OnnxImportError:
            raise
        except SymnormError as exc:
            ctx.fail(str(exc))
        except (ValueError, TypeError, IndexError, KeyError) as exc:   # numpy on bad constants
            ctx.fail("%s: %s" % (type(exc).__name__, exc))
        for name, v in zip(node.output, outs):
            if name:
                ctx.values[name] = v
    heads = []
    for o in g.output:
        v = ctx.values.get(o.name)
        if v is None:
            raise OnnxImportError("import_model: graph output %r is never produced" % o.name)
        if not isinstance(v, Symbol):
            # a constant output (a generator op, BatchNorm's inference mean): a parameter
            # read through BlockGrad, so training leaves it as it is
            name = ctx.fresh(o.name)
            ctx.arg_params[name] = np.array(v, dtype=v.dtype if v.dtype.kind == "f" else np.float32)
            v = S.BlockGrad(S.Variable(name), name=ctx.fresh(o.name + "_const"))
        heads.append(v)
    if not heads:
        raise OnnxImportError("import_model: the graph has no outputs: nothing to compute")
    net = heads[0] if len(heads) == 1 else S.Group(heads)
    used = set(net.list_arguments()) | set(net.list_auxiliary_states())
    arg = {k: v for k, v in ctx.arg_params.items() if k in used}
    aux = {k: v for k, v in ctx.aux_params.items() if k in used}
    return net, arg, aux
