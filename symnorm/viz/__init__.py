"""Seeing the graph: ``print_summary``, ``plot_network`` (DOT/SVG/PNG/PDF), ``to_html``,
``to_networkx``.  Labels and colours come from each op's registry entry.

Every picture is drawn MXNet's way up: inputs at the bottom, outputs at the top (Graphviz
from the DOT, and the built-in layered layout of ``layout.py`` used without Graphviz and
by the HTML viewer).  ``load`` reads a symbol file for looking at it even when it uses ops
symnorm does not have: they become grey placeholders (``opaque.py``)."""
from __future__ import annotations

from .dot import Digraph, plot_network
from .html import to_html
from .model import describe
from .opaque import load_for_view
from .summary import print_summary


def load(path):
    """The graph of a ``-symbol.json`` file for viewing: ops not in the registry become grey
    placeholders (with their op name and attributes; shapes unknown past them), named in
    one warning.  ``symnorm.sym.load`` is the loader for running a graph.

    >>> import symnorm as sn, json, os, tempfile
    >>> doc = json.loads(sn.sym.Variable('x').tojson())
    >>> doc['nodes'].append({'op': 'MyOp', 'name': 'my', 'inputs': [[0, 0, 0]]})
    >>> doc['heads'] = [[1, 0, 0]]
    >>> path = os.path.join(tempfile.mkdtemp(), 'g-symbol.json')
    >>> _ = open(path, 'w').write(json.dumps(doc))
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as said:
    ...     sn.viz.load(path).list_outputs()
    ['my_output']
    >>> 'MyOp' in str(said[0].message)
    True
    """
    import warnings
    from .opaque import unknown_line
    sym, unknown = load_for_view(path)
    if unknown:
        warnings.warn(unknown_line(unknown), stacklevel=2)
    return sym


def to_networkx(symbol, shape=None):
    """``graph.to_networkx`` plus each node's ``role`` (op/data/param/aux), ``label`` and
    trainable/aux parameter counts (``param_count``/``aux_count``)."""
    from ..core.graph import to_networkx as _nx
    g = _nx(symbol, shape)
    by_node = {v.node: v for v in describe(symbol, shape)}
    for key, data in g.nodes(data=True):
        v = next(v for n, v in by_node.items() if n.name == data["name"])
        data.update(role=v.role, label=v.label, param_count=v.params, aux_count=v.aux)
    return g


__all__ = ["print_summary", "plot_network", "Digraph", "to_html", "to_networkx", "load"]
