"""``plot_network``: the graph as DOT with MXNet's look, and a small ``Digraph`` object
that renders it (Graphviz's ``dot`` when installed, else the built-in SVG renderer)."""
from __future__ import annotations

import shutil
import warnings
import subprocess

import numpy as np

from ..core.fileio import atomic_write
from ..core.shape import type_entries
from .layout import fit_label
from .model import describe, fmt_shape

# MXNet's node look, except that boxes grow to fit their (wrapped) label: MXNet's fixed
# 1.3in boxes let Gluon names such as resnetv10_stage3_batchnorm2_fwd spill over neighbours
DEFAULT_NODE_ATTRS = {"shape": "box", "fixedsize": "false", "width": "1.3", "height": "0.8034",
                      "style": "filled"}


def _q(text) -> str:
    """``text`` as a DOT quoted string: backslashes doubled (so Graphviz's escapes such as
    ``\\N`` or ``\\G`` in a name stay literal), quotes escaped, line breaks as ``\\n``, other
    control characters shown as U+FFFD (they would break the file)."""
    text = "".join(c if c >= " " or c == "\n" else "\ufffd" for c in str(text))
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _attrs(d) -> str:
    return " ".join("%s=%s" % (k, _q(v)) for k, v in d.items())


class Digraph:
    """DOT source plus rendering: ``.source``, ``.render()``, ``.pipe()``, ``.save()``,
    like the ``graphviz.Digraph`` MXNet returns."""

    def __init__(self, name, source, views, fmt="pdf", shape=None):
        self.name, self.source, self.format = name, source, fmt
        self._views, self._shape = views, shape

    def __str__(self):
        return self.source

    def _repr_svg_(self):
        return self.pipe("svg").decode("utf-8")

    def pipe(self, format=None) -> bytes:
        """The rendered bytes: svg always works; png/pdf need Graphviz's ``dot``."""
        fmt = format or self.format
        if fmt == "dot":
            return self.source.encode("utf-8")
        exe = shutil.which("dot")
        if exe:
            out = subprocess.run([exe, "-T" + fmt], input=self.source.encode("utf-8"),
                                 capture_output=True)
            if out.returncode != 0:
                raise RuntimeError("dot -T%s failed: %s" % (fmt, out.stderr.decode(errors="replace")))
            return out.stdout
        if fmt == "svg":
            from .svg import render_svg
            return render_svg(self._views, self.name, self._shape).encode("utf-8")
        raise RuntimeError("rendering %s needs Graphviz's dot program, which is not installed "
                           "(Debian/Ubuntu: apt-get install graphviz); svg, dot and html work "
                           "without it" % fmt)

    def save(self, filename=None) -> str:
        """Write the DOT source (atomically)."""
        filename = filename or self.name + ".gv"
        atomic_write(filename, self.source)
        return filename

    def render(self, filename=None, format=None, cleanup=False, view=False) -> str:
        """Write ``<filename>.<format>`` (and the DOT source unless ``cleanup``)."""
        fmt = format or self.format
        filename = filename or self.name
        if not cleanup:
            self.save(filename)
        out = "%s.%s" % (filename, fmt)
        atomic_write(out, self.pipe(fmt))
        return out


def _warn_repeated_names(views):
    """MXNet's warning when node names repeat: its Graphviz picture keys nodes by name, so
    repeats there merge into one node (and may draw a cycle).  symnorm draws each node
    apart (``name#k`` keys) but says the same, naming the repeats in graph order."""
    seen, repeated = set(), []
    for v in views:
        if v.name in seen and v.name not in repeated:
            repeated.append(v.name)
        seen.add(v.name)
    if repeated:
        warnings.warn("There are multiple variables with the same name in your graph, this "
                      "may result in cyclic graph. Repeated names: " + ",".join(repeated),
                      RuntimeWarning, stacklevel=3)


def plot_network(symbol, title="plot", save_format="pdf", shape=None, dtype=None,
                 node_attrs={}, hide_weights=True):
    """The graph of ``symbol`` as MXNet's ``plot_network`` draws it.

    Inputs are ovals, ops boxes filled with their op family's colour (from the registry),
    labelled like ``Convolution\\n5x5/1, 6``; edges run from each op back to its inputs,
    labelled with the input's shape without the batch axis when ``shape`` is given, and
    its dtype in parentheses when ``dtype`` (input dtypes, as for ``infer_type``) is given.
    Repeated node names give MXNet's RuntimeWarning.
    Parameters and aux states are hidden by structure (``hide_weights``); when shown, aux
    states are drawn dashed and grey, distinct from arguments.

    >>> import symnorm as sn
    >>> net = sn.sym.Activation(sn.sym.Variable('data'), act_type='relu', name='relu')
    >>> 'label="Activation\\\\nrelu"' in sn.viz.plot_network(net).source
    True
    """
    views = describe(symbol, dict(shape) if shape else None)
    _warn_repeated_names(views)
    types = type_entries(symbol, (), dict(dtype))[0] if dtype else None
    base = dict(DEFAULT_NODE_ATTRS)
    base.update(node_attrs)
    lines = ["digraph %s {" % _q(title)]
    drawn = set()
    for v in views:
        if v.role in ("param", "aux") and hide_weights:
            continue
        attrs = dict(base)
        # the built-in renderer's wrapping, so both pictures break long names alike
        attrs.update({"label": "\n".join(fit_label(v.label, v.op == "null")[0]), "fillcolor": v.color,
                      "tooltip": v.name})
        if v.op == "null":
            attrs["shape"] = "oval"
            if v.role == "aux":
                attrs["style"] = "filled,dashed"
        elif v.unknown:
            attrs["style"] = "filled,dashed"
            attrs["tooltip"] = "%s (%s): not in symnorm's op registry" % (v.name, v.op)
        lines.append("\t%s [%s]" % (_q(v.key), _attrs(attrs)))
        drawn.add(v.key)
    for v in views:
        if v.op == "null":
            continue
        for src, index, _ in v.inputs:
            if src.key not in drawn:
                continue
            label = fmt_shape(src.shapes[index]) if shape else ""
            if types is not None:           # MXNet's "200(float32)"
                t = types.get((src.node, index))
                label += "(%s)" % ("?" if t is None else np.dtype(t).name)
            lines.append("\t%s -> %s [%s]" % (_q(v.key), _q(src.key), _attrs(
                {"label": label, "arrowtail": "open", "dir": "back"})))
    unknown = sorted({v.op for v in views if v.unknown})
    if unknown:
        from .opaque import unknown_line
        warnings.warn(unknown_line(unknown), stacklevel=2)
    lines.append("}")
    return Digraph(title, "\n".join(lines) + "\n", [v for v in views if v.key in drawn],
                   save_format, shape)
