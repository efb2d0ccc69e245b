"""Ops that are not in the registry, for looking at a graph only: an old or foreign model
with one op symnorm lacks still gets its summary, picture and viewer.  Such an op is drawn
as a grey dashed box with its op name and attributes; shapes past it are unknown."""
from __future__ import annotations

import dataclasses

from symnorm.registry import Op

UNKNOWN_COLOR = "#d0d0d0"
_CLASSES: dict = {}


def _no_inference(self, *args):
    return None                       # nothing is known about an op we do not have


def _label(self, node_name):
    return "%s\n%s" % (self.op_name, node_name)


def unknown_op(op_name: str, n_inputs: int, n_outputs: int) -> Op:
    """A placeholder op (not registered) with ``n_inputs`` inputs and ``n_outputs`` outputs."""
    key = (op_name, n_inputs, n_outputs)
    if key not in _CLASSES:
        ns = {"op_name": op_name, "unknown": True, "color": UNKNOWN_COLOR, "differentiable": False,
              "inputs": tuple("input%d" % i for i in range(n_inputs)),
              "outputs": ("output",) if n_outputs == 1 else
              tuple("output%d" % i for i in range(n_outputs)),
              "infer_shape": _no_inference, "infer_type": _no_inference, "label": _label,
              "__module__": __name__, "__qualname__": "UnknownOp"}
        _CLASSES[key] = dataclasses.dataclass(frozen=True)(type("UnknownOp", (Op,), ns))
    return _CLASSES[key]()


def load_for_view(path: str):
    """``(symbol, unknown op names)`` from a symbol JSON file, ops not in the registry
    kept as placeholders; every other fault raises as ``symnorm.sym.load`` does."""
    from symnorm import serialize
    from symnorm.symbol import Symbol
    sym = Symbol(serialize.read(path, unknown_op=unknown_op))
    return sym, unknown_ops(sym)


def unknown_ops(symbol) -> list:
    """Sorted names of the placeholder ops in ``symbol``."""
    from symnorm.graph import dfs_postorder
    return sorted({n.op.op_name for n in dfs_postorder(symbol.entries)
                   if n.op is not None and getattr(n.op, "unknown", False)})


def unknown_line(names) -> str:
    """The one line naming every unknown op."""
    return "not in symnorm's op registry (drawn grey, shapes unknown past them): %s" % ", ".join(names)
