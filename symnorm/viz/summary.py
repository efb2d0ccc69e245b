"""``print_summary``: MXNet's layer table, with correct parameter counts and aux states."""
from __future__ import annotations

import shutil
import sys

from .model import describe, fmt_shape, num_elements


def print_summary(symbol, shape=None, line_length=None, positions=(.44, .64, .74, 1.), quiet=False):
    """Print a table of layers: name(type), output shape without the batch
    axis, parameter count, previous layers -- MXNet's ``mx.viz.print_summary`` layout.

    Returns None, as MXNet's does (a REPL shows the table once); with ``quiet=True`` it
    prints nothing and returns the text.  ``line_length`` defaults to 120, or to the
    terminal's width when printing to a narrower terminal.

    The "Param #" column and "Total params" follow MXNet: they count the ops MXNet counts
    (Convolution, FullyConnected, BatchNorm, Embedding: ``Op.summary_params``), but from
    the real parameter shapes, so BatchNorm on any axis is right (MXNet uses shape[1]).
    The footer goes beyond MXNet with structural totals over *every* op (LayerNorm's
    gamma/beta too, shared weights once): trainable params, aux states (BatchNorm's moving
    statistics, which MXNet never shows) and their sum.

    >>> import symnorm as sn
    >>> net = sn.sym.BatchNorm(sn.sym.Variable('data'), name='bn', axis=-1)
    >>> text = sn.viz.print_summary(net, shape={'data': (2, 5, 3)}, quiet=True)
    >>> 'Total params: 6' in text and 'Aux states: 6' in text
    True
    """
    shape = dict(shape) if shape else None
    if line_length is None:
        line_length = 120
        if not quiet and sys.stdout.isatty():
            line_length = max(60, min(120, shutil.get_terminal_size().columns))
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    lines = []

    def row(fields):
        line = ""
        for f, pos in zip(fields, positions):
            line += str(f)
            line = line[:pos]
            line += " " * (pos - len(line))
        lines.append(line)

    views = describe(symbol, shape)
    shown = [v for v in views if v.role == "op" or (v.role == "data" and _feeds_first_slot(v, views))]
    lines.append("_" * line_length)
    row(["Layer (type)", "Output Shape", "Param #", "Previous Layer"])
    lines.append("=" * line_length)
    counted, trainable, aux_total, column_total = set(), 0, 0, 0
    for k, v in enumerate(shown):
        prev = [src.name for src, _, slot in v.inputs if src.role == "op" or
                (src.role == "data" and slot == v.inputs[0][2])]
        params = 0
        for src, _, _ in v.inputs:           # shared parameters count once, at first use
            if src.role in ("param", "aux") and src.node not in counted:
                counted.add(src.node)
                size = num_elements(src.shapes[0])
                if src.role == "param":
                    params += size
                else:
                    aux_total += size
        trainable += params
        shown_params = params if (v.node.op is None or v.node.op.summary_params) else 0
        column_total += shown_params
        row(["%s(%s)" % (v.name, v.op), fmt_shape(v.shapes[0]) if shape else "", shown_params,
             prev[0] if prev else ""])
        for p in prev[1:]:
            row(["", "", "", p])
        lines.append(("=" if k == len(shown) - 1 else "_") * line_length)
    lines.append("Total params: %d" % column_total)
    lines.append("_" * line_length)
    lines.append("Trainable params: %d" % trainable)
    lines.append("Aux states: %d" % aux_total)
    lines.append("Total params + aux states: %d" % (trainable + aux_total))
    lines.append("_" * line_length)
    unknown = sorted({v.op for v in views if v.unknown})
    if unknown:
        from .opaque import unknown_line
        lines.append(unknown_line(unknown))
    text = "\n".join(lines)
    if quiet:
        return text
    print(text)
    return None


def _feeds_first_slot(v, views):
    return any(src is v and slot == w.inputs[0][2] for w in views for src, _, slot in w.inputs)
