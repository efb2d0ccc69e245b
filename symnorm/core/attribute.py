"""``AttrScope``: attributes attached to every symbol created inside a ``with`` block.

>>> import symnorm as sn
>>> with sn.AttrScope(ctx_group='dev1'):
...     v = sn.sym.Variable('w')
>>> v.attr('ctx_group')
'dev1'
"""
from __future__ import annotations

import threading

# MXNet 1.9.1's hidden attribute keys: given bare, stored and written as ``__key__``
HIDDEN_KEYS = frozenset(("ctx_group", "lr_mult", "wd_mult", "force_mirroring",
                         "mirror_stage", "profiler_scope"))


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
        """The scope's attributes updated with ``attr``; MXNet's hidden keys (``ctx_group``,
        ``lr_mult``, ...) are stored as ``__ctx_group__`` etc., as MXNet stores them."""
        out = dict(self._attr)
        out.update(attr or {})
        return {("__%s__" % k if k in HIDDEN_KEYS else k): v for k, v in out.items()}

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
