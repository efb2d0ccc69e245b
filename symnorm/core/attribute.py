"""``AttrScope``: attributes attached to every symbol created inside a ``with`` block.

>>> import symnorm as sn
>>> with sn.AttrScope(ctx_group='dev1'):
...     v = sn.sym.Variable('w')
>>> v.attr('ctx_group')
'dev1'
"""
from __future__ import annotations

import threading


class AttrScope:
    """Scope of string attributes; inner scopes extend outer ones, explicit attrs win."""

    _local = threading.local()

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            if not isinstance(v, str):
                raise ValueError("AttrScope: attribute %r must be a string, got %r" % (k, v))
        self._attr = kwargs
        self._old = None

    def get(self, attr: dict | None) -> dict:
        """The scope's attributes updated with ``attr``."""
        if not self._attr:
            return dict(attr or {})
        out = dict(self._attr)
        out.update(attr or {})
        return out

    def __enter__(self):
        self._old = AttrScope.current()
        merged = dict(self._old._attr)
        merged.update(self._attr)
        self._attr = merged
        AttrScope._local.value = self
        return self

    def __exit__(self, *exc):
        AttrScope._local.value = self._old

    @staticmethod
    def current() -> "AttrScope":
        cur = getattr(AttrScope._local, "value", None)
        if cur is None:
            cur = AttrScope._local.value = AttrScope()
        return cur


__all__ = ["AttrScope"]
