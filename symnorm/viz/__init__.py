"""Seeing the graph: ``print_summary``, ``plot_network`` (DOT/SVG/PNG/PDF), ``to_html``,
``to_networkx``.  Labels and colours come from each op's registry entry."""
from __future__ import annotations

from .dot import Digraph, plot_network
from .html import to_html
from .model import describe
from .summary import print_summary


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


__all__ = ["print_summary", "plot_network", "Digraph", "to_html", "to_networkx"]
