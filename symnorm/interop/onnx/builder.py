"""The state of one export: ONNX nodes and initializers being written, tensor names, and
what shape inference knows about each symnorm entry.  Converters (``ops_*.py``) see only
this object, so they never touch protobuf details beyond ``add``/``const``."""
from __future__ import annotations

import numpy as np

from .errors import OnnxExportError


class ExportContext:
    """Collects the ONNX graph while ``export.py`` walks the symnorm graph."""

    def __init__(self, opset: int, dynamic: bool, shapes: dict, dtypes: dict):
        import onnx
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.dynamic = dynamic
        self.shapes = shapes              # (node, index) -> static shape
        self.dtypes = dtypes              # (node, index) -> numpy dtype
        self.nodes = []                   # onnx NodeProto, in topological order
        self.initializers = {}            # tensor name -> numpy array
        self.taken = set()                # every tensor / node name used so far
        self.node = None                  # the symnorm node being converted

    # ------------------------------------------------------------------ names
    def fresh(self, base: str) -> str:
        """A tensor or node name not used yet, derived from ``base``."""
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = "%s_%d" % (base, k)
        self.taken.add(name)
        return name

    # ------------------------------------------------------------------ the current node
    def in_shape(self, slot: int) -> tuple:
        return self.shapes[tuple(self.node.inputs[slot])]

    def out_shape(self, index: int = 0) -> tuple:
        return self.shapes[(self.node, index)]

    def in_dtype(self, slot: int = 0):
        return np.dtype(self.dtypes.get(tuple(self.node.inputs[slot]), np.float32))

    def fail(self, why: str):
        """Raise the export error for the current node (op and node named)."""
        raise OnnxExportError("cannot export %s to ONNX: %s" % (self.node.describe(), why))

    # ------------------------------------------------------------------ emitting
    def add(self, op_type: str, inputs, n_out: int = 1, **attrs) -> list:
        """Append an ONNX node; returns its output tensor names.  ``None`` in ``inputs``
        is an omitted optional input (written as "")."""
        base = self.node.name if self.node is not None else op_type.lower()
        outs = [self.fresh("%s_%s" % (base, op_type.lower()) if n_out == 1 else
                           "%s_%s%d" % (base, op_type.lower(), i)) for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(
            op_type, ["" if i is None else i for i in inputs], outs,
            name=self.fresh("%s/%s" % (base, op_type)), **attrs))
        return outs

    def add1(self, op_type: str, inputs, **attrs) -> str:
        return self.add(op_type, inputs, 1, **attrs)[0]

    def const(self, value, dtype=None, hint: str = "const") -> str:
        """An initializer holding ``value`` (a small constant the converter needs)."""
        arr = np.asarray(value, dtype=dtype)
        base = (self.node.name + "_" + hint) if self.node is not None else hint
        name = self.fresh(base)
        self.initializers[name] = arr
        return name

    def ints(self, values, hint: str = "ints") -> str:
        """A 1-D int64 constant (axes, shapes, pads)."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint=hint)

    def scalar(self, value, like_slot: int = 0, hint: str = "scalar") -> str:
        """A 0-d constant of the dtype of the current node's input ``like_slot``."""
        return self.const(np.asarray(value, dtype=self.in_dtype(like_slot)), hint=hint)

    def value(self, tensor: str):
        """The numpy value of an initializer, or None if ``tensor`` is computed."""
        return self.initializers.get(tensor)

    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """A Reduce* node; ``axes=None`` reduces everything.  ReduceSum takes axes as an
        input from opset 13, the others from opset 18."""
        kd = int(bool(keepdims))
        if axes is None:
            return self.add1(op_type, [x], keepdims=kd)
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.add1(op_type, [x, self.ints(axes, "axes")], keepdims=kd)
        return self.add1(op_type, [x], axes=axes, keepdims=kd)

    def cast(self, x: str, dtype) -> str:
        """A Cast of ``x`` to the numpy ``dtype``."""
        return self.add1("Cast", [x], to=self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))

    def unsqueeze(self, x: str, axes) -> str:
        return self.add1("Unsqueeze", [x, self.ints(axes, "axes")])

    def reshape(self, x: str, shape) -> str:
        return self.add1("Reshape", [x, self.ints(shape, "shape")])

    def reshape_as(self, x: str, like: str) -> str:
        """``x`` reshaped to ``like``'s run-time shape (a dynamic batch included)."""
        return self.add1("Reshape", [x, self.add1("Shape", [like])])
