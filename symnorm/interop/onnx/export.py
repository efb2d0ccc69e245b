"""``export_model``: a symnorm/MXNet symbol and its weights -> an ONNX file.

The walk is table-driven: every op node is handed to ``CONVERTERS[op_name]`` (the union of
the ``ops_*`` tables), which emits ONNX nodes through an :class:`ExportContext`.  Weights
become initializers (never graph inputs), the data inputs become graph inputs, loss-head
labels disappear (the heads export as their prediction).  The model passes
``onnx.checker`` (with shape inference) before it is written, atomically."""
from __future__ import annotations

import os

import numpy as np

from symnorm import graph, shape as shape_mod, sym as sym_mod
from symnorm.interop import nd
from symnorm.errors import SymnormError
from symnorm.fileio import atomic_write
from symnorm import Symbol

from . import ops_index, ops_loss, ops_more, ops_nn, ops_norm, ops_tensor
from .builder import ExportContext
from .errors import OnnxExportError
from .opset import choose_opset

CONVERTERS = {**ops_nn.CONVERTERS, **ops_norm.CONVERTERS, **ops_tensor.CONVERTERS,
              **ops_loss.CONVERTERS, **ops_more.CONVERTERS, **ops_index.CONVERTERS}
ONE_WAY = {**ops_nn.ONE_WAY, **ops_loss.ONE_WAY, **ops_more.ONE_WAY, **ops_index.ONE_WAY}
"""op name -> predicate(op): True when that op's export runs in onnxruntime but uses ONNX
ops symnorm's importer does not read (docs/onnx.md, "Known limits")."""


def is_one_way(op) -> bool:
    """Whether exporting ``op`` (an op instance) gives ONNX that import cannot read back."""
    rule = ONE_WAY.get(op.op_name)
    return bool(rule and rule(op))
"""symnorm op name -> converter(ctx, node, onnx input names) -> onnx output names."""

NOT_EXPORTED = frozenset()
"""Registered ops export_model refuses, for want of a converter so far (MXNet parity item 4
added them to the registry first).  Every registered op is either here or in CONVERTERS:
the tests hold the two sets to the registry, so a new op is a conscious choice."""

BATCH = "batch"


def _load_symbol(sym):
    if isinstance(sym, Symbol):
        return sym
    if isinstance(sym, (str, os.PathLike)):
        return sym_mod.load(os.fspath(sym))
    raise OnnxExportError("export_model: sym must be a Symbol or the path of a -symbol.json "
                          "file, got %s" % type(sym).__name__)


def _load_params(params) -> dict:
    """A dict name -> numpy array from a dict, an (arg, aux) pair or a .params path;
    MXNet's ``arg:``/``aux:`` prefixes are dropped."""
    if isinstance(params, (str, os.PathLike)):
        params = nd.load(os.fspath(params))
    if isinstance(params, (tuple, list)) and len(params) == 2 and all(isinstance(p, dict) for p in params):
        params = {**params[0], **params[1]}
    if not isinstance(params, dict):
        raise OnnxExportError("export_model: params must be a dict name -> array, an "
                              "(arg_params, aux_params) pair or a .params path, got %s"
                              % type(params).__name__)
    out = {}
    for k, v in params.items():
        name = k.split(":", 1)[1] if k.startswith(("arg:", "aux:")) else k
        arr = np.asarray(v.asnumpy() if hasattr(v, "asnumpy") else v)
        if arr.dtype.kind not in "fiub":
            raise OnnxExportError("export_model: params[%r] must be a numeric array, got %s"
                                  % (k, type(v).__name__))
        out[name] = arr
    return out


def _label_variables(nodes) -> set:
    """Variables fed only into label slots (``no_grad_inputs``) of loss heads."""
    uses = {}
    for n in nodes:
        if n.is_variable:
            continue
        head = n.op.head_grad == "ignore"
        names = list(n.op.arguments()) + list(n.op.aux)
        for slot, e in enumerate(n.inputs):
            if e.node.is_variable:
                uses.setdefault(e.node, []).append(head and names[slot] in n.op.no_grad_inputs)
    return {v.name for v, u in uses.items() if u and all(u)}


def _input_specs(symbol, nodes, params, in_shapes, in_types):
    """(data input names, {name: shape}, {name: dtype}) from MXNet-style arguments."""
    args = [a for a in symbol.list_arguments() if a not in params]
    labels = _label_variables(nodes)
    data = [a for a in args if a not in labels]
    if in_shapes is None:
        raise OnnxExportError("export_model: in_shapes is required (one shape per data input: %s)"
                              % data)
    if isinstance(in_shapes, dict):
        shapes = {k: tuple(v) for k, v in in_shapes.items()}
        unknown = [k for k in shapes if k not in args]
        if unknown:
            raise OnnxExportError("export_model: in_shapes names %s, which are not data inputs; "
                                  "the data inputs are %s" % (unknown, data))
    else:
        in_shapes = list(in_shapes)
        if in_shapes and isinstance(in_shapes[0], int):
            in_shapes = [in_shapes]          # one bare shape for a single input
        names = data if len(in_shapes) == len(data) else args
        if len(in_shapes) != len(names):
            raise OnnxExportError("export_model: %d in_shapes given but the graph has %d data "
                                  "inputs %s (arguments not in params)" % (len(in_shapes), len(data), data))
        shapes = {k: tuple(int(d) for d in s) for k, s in zip(names, in_shapes)}
    if isinstance(in_types, (list, tuple)):
        if len(in_types) != len(data):
            raise OnnxExportError("export_model: %d in_types given for %d data inputs %s"
                                  % (len(in_types), len(data), data))
        types = {k: np.dtype(t) for k, t in zip(data, in_types)}
    else:
        types = {k: np.dtype(in_types) for k in data}
    return data, shapes, types


def _infer(symbol, shapes, types, params):
    kw = {k: v.shape for k, v in params.items()}
    kw.update(shapes)
    args = set(symbol.list_inputs())
    kw = {k: v for k, v in kw.items() if k in args}
    tkw = {k: v for k, v in types.items() if k in args}
    tkw.update({k: v.dtype for k, v in params.items() if k in args and k not in tkw})
    try:
        entry_shapes, _, _ = shape_mod.shape_entries(symbol, (), kw)
        entry_types, _ = shape_mod.type_entries(symbol, (), tkw, default=np.float32)
    except SymnormError as exc:
        raise OnnxExportError("export_model: %s" % exc) from None
    return entry_shapes, entry_types


def _dims(shape, dynamic, dyn_shape):
    if dyn_shape is not None:
        return [BATCH if (d is None and i == 0) else ("dim%d" % i if d is None else int(d))
                for i, d in enumerate(dyn_shape)]
    return [BATCH if (dynamic and i == 0) else int(d) for i, d in enumerate(shape)]


def build_model(sym, params, in_shapes=None, in_types=np.float32, dynamic=False,
                dynamic_input_shapes=None, opset_version=None):
    """The ``onnx.ModelProto`` for ``sym`` with ``params`` (not yet checked or written)."""
    import onnx
    from onnx import helper
    opset = choose_opset(opset_version)
    symbol = _load_symbol(sym)
    params = _load_params(params)
    nodes = graph.dfs_postorder(symbol.entries)
    data, shapes, types = _input_specs(symbol, nodes, params, in_shapes, in_types)
    entry_shapes, entry_types = _infer(symbol, shapes, types, params)
    ctx = ExportContext(opset, bool(dynamic or dynamic_input_shapes), entry_shapes, entry_types)
    names = {}                                    # (node, index) -> onnx tensor name
    variables = {}
    for n in nodes:
        if not n.is_variable:
            continue
        names[(n, 0)] = ctx.fresh(n.name)
        variables[names[(n, 0)]] = n
        if n.name in params:
            dtype = entry_types.get((n, 0), params[n.name].dtype)
            ctx.initializers[names[(n, 0)]] = params[n.name].astype(dtype, copy=False)
    for n in nodes:
        if n.is_variable:
            continue
        convert = CONVERTERS.get(n.op.op_name)
        ctx.node = n
        if convert is None:
            ctx.fail("op %r has no ONNX converter%s (exportable ops: see "
                     "symnorm.onnx.exportable_ops())"
                     % (n.op.op_name, " yet" if n.op.op_name in NOT_EXPORTED else ""))
        ins = []
        for e in n.inputs:
            if (e.node, e.index) not in names:
                ctx.fail("it reads output %r of %s, which has no ONNX equivalent in inference"
                         % (e.node.op.output_names()[e.index], e.node.describe()))
            ins.append(names[(e.node, e.index)])
        for i, shape in enumerate([entry_shapes.get((e.node, e.index)) for e in n.inputs]):
            if shape is None or any(d in (None, 0, -1) for d in shape):
                if not (i < len(n.inputs) and n.inputs[i].node.is_variable
                        and n.inputs[i].node.name not in shapes and n.inputs[i].node.name not in params):
                    ctx.fail("the shape of input %d is unknown (%s); give in_shapes for every data input"
                             % (i, shape))
        try:
            outs = convert(ctx, n, ins)
        except OnnxExportError:
            raise
        except Exception as exc:      # a converter bug: still name the node, keep the cause
            raise OnnxExportError("cannot export %s to ONNX: %s: %s (a symnorm bug, please report it)"
                                  % (n.describe(), type(exc).__name__, exc)) from exc
        for i, name in enumerate(outs):
            names[(n, i)] = name
    ctx.node = None
    outputs = []
    for e in symbol.entries:
        key = (e.node, e.index)
        if key not in names:
            raise OnnxExportError("export_model: output %r of %s has no ONNX equivalent in inference"
                                  % (e.node.op.output_names()[e.index], e.node.describe()))
        # outputs are named as symnorm names them (fc_output), through an Identity: the
        # converter's own tensor may be another output too, or a graph input
        name = ctx.fresh(e.node.output_name(e.index))
        ctx.nodes.append(helper.make_node("Identity", [names[key]], [name],
                                          name=ctx.fresh(name + "/Identity")))
        shp = entry_shapes[key]
        batch = next(iter(shapes.values()))[0] if shapes else None
        dims = [BATCH if (ctx.dynamic and i == 0 and d == batch) else int(d) for i, d in enumerate(shp)]
        outputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(np.dtype(entry_types.get(key, np.float32))), dims))
    used = {i for nd_ in ctx.nodes for i in nd_.input}
    inputs = []
    dyn = dict(zip(data, dynamic_input_shapes)) if dynamic_input_shapes else {}
    for tname, n in variables.items():
        if tname in ctx.initializers or tname not in used:
            continue
        if n.name not in shapes:
            raise OnnxExportError("export_model: input %r is used by the exported graph but has no "
                                  "shape in in_shapes and no value in params" % n.name)
        dtype = entry_types.get((n, 0), np.float32)
        inputs.append(helper.make_tensor_value_info(
            tname, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
            _dims(shapes[n.name], ctx.dynamic, dyn.get(n.name))))
    g = helper.make_graph(ctx.nodes, symbol.name or "symnorm", inputs, outputs)
    for k, v in ctx.initializers.items():
        if k in used:           # filled in place: make_graph's copy of 500 MB costs seconds
            t = g.initializer.add()
            t.name = k
            t.data_type = helper.np_dtype_to_tensor_dtype(v.dtype)
            t.dims.extend(v.shape)
            t.raw_data = np.ascontiguousarray(v).astype(v.dtype.newbyteorder("<"), copy=False).tobytes()
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(g, opset_imports=opsets, producer_name="symnorm",
                              ir_version=helper.find_min_ir_version_for(opsets))
    return model


def check(model) -> None:
    """onnx.checker with full shape inference, run on a skeleton of ``model`` whose
    initializers are typed graph inputs without data: the same graph to check, and for
    VGG's 530 MB of weights seconds less (no second serialization and parse)."""
    import onnx
    from onnx import helper
    g = model.graph
    weights = [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in g.initializer]
    skeleton = helper.make_model(
        helper.make_graph(g.node, g.name, list(g.input) + weights, g.output),
        opset_imports=model.opset_import, producer_name=model.producer_name,
        ir_version=model.ir_version)
    try:
        onnx.checker.check_model(skeleton, full_check=True)
    except Exception as exc:      # onnx raises its own ValidationError / InferenceError
        raise OnnxExportError("export_model: the ONNX graph symnorm built is invalid (a symnorm "
                              "bug, please report it): %s" % exc) from None


def export_model(sym, params, in_shapes=None, in_types=np.float32, onnx_file_path="model.onnx",
                 verbose=False, dynamic=False, dynamic_input_shapes=None, opset_version=None):
    """Write ``sym`` with ``params`` as an ONNX file (MXNet 1.9.1's ``mx.onnx.export_model``).

    ``sym``: a Symbol or a ``-symbol.json`` path.  ``params``: dict name -> array (MXNet's
    ``arg:``/``aux:`` prefixes allowed), an ``(arg_params, aux_params)`` pair or a
    ``.params`` path.  ``in_shapes``: one shape per data input (arguments not in params,
    loss labels excluded), in ``list_arguments`` order, or a dict name -> shape.
    ``dynamic=True`` makes axis 0 of every input symbolic (``"batch"``);
    ``dynamic_input_shapes`` gives per-input shapes with ``None`` for symbolic axes.
    ``opset_version``: default :data:`symnorm.interop.onnx.opset.DEFAULT_OPSET` (17).
    Inference semantics throughout (BatchNorm uses its moving statistics, Dropout is the
    identity, loss heads output their prediction).  Returns ``onnx_file_path``."""
    model = build_model(sym, params, in_shapes, in_types, dynamic, dynamic_input_shapes, opset_version)
    check(model)
    data = model.SerializeToString()
    if verbose:
        import onnx
        printer = getattr(onnx, "printer", None)        # onnx >= 1.15; printable_graph before
        print(printer.to_text(model.graph) if printer else onnx.helper.printable_graph(model.graph))
    atomic_write(os.fspath(onnx_file_path), data)
    return onnx_file_path
