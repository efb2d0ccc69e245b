"""How the per-family translation tables are made: a dict from a name (a symnorm op
when exporting, an ONNX op type when importing) to its translator, and the decorator that
fills it."""
from __future__ import annotations


def table():
    """``(dict, decorator)``: ``@decorator("A", "B")`` registers a function for A and B."""
    entries = {}

    def register(*names):
        def deco(fn):
            for n in names:
                entries[n] = fn
            return fn
        return deco
    return entries, register
