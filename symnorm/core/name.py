"""Automatic node names, as MXNet makes them: ``<hint><counter>`` (``batchnorm0``, ``_plus1``).

>>> import symnorm as sn
>>> with sn.name.NameManager():
...     sn.sym.BatchNorm(sn.sym.Variable('x')).name
'batchnorm0'
>>> with sn.name.Prefix('net_'):
...     sn.sym.FullyConnected(sn.sym.Variable('x'), num_hidden=2, name='fc').name
'net_fc'
"""
from __future__ import annotations

import threading


class NameManager:
    """Hands out ``<hint><k>`` names with one counter per hint.  As a context manager it
    installs fresh counters and restores the previous manager (and its counters) on exit."""

    _local = threading.local()

    def __init__(self):
        self._counter: dict[str, int] = {}
        self._old = None

    def get(self, name: str | None, hint: str) -> str:
        """The user's ``name`` if given, else the next auto name for ``hint``."""
        if name:
            return name
        k = self._counter.get(hint, 0)
        self._counter[hint] = k + 1
        return "%s%d" % (hint, k)

    def __enter__(self):
        self._old = NameManager.current()
        NameManager._local.value = self
        return self

    def __exit__(self, *exc):
        NameManager._local.value = self._old
        self._old = None

    @staticmethod
    def current() -> "NameManager":
        cur = getattr(NameManager._local, "value", None)
        if cur is None:
            cur = NameManager._local.value = NameManager()
        return cur


class Prefix(NameManager):
    """A NameManager that prefixes every name it returns, auto or explicit."""

    def __init__(self, prefix: str):
        super().__init__()
        self._prefix = prefix

    def get(self, name, hint):
        return self._prefix + super().get(name, hint)


__all__ = ["NameManager", "Prefix"]
