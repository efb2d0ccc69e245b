"""All-or-nothing changes to arrays and Python objects: ``Module.update`` runs its
optimizer steps inside one, so an exception or Ctrl-C midway leaves every parameter,
optimizer state and counter as it was before the update.

Two mechanisms, because the two kinds of failure differ:

* an exception (a ``FloatingPointError`` under ``np.errstate(over='raise')``, a bug in a
  custom optimizer) is undone: every array is copied aside right before it is first
  changed, every object's attributes are snapshotted, and all are put back;
* Ctrl-C (SIGINT) is *held* while the block runs and delivered when it ends: an update
  takes milliseconds, so the user waits for nothing, and the step lands whole.  (Held
  only in the main thread, where Python delivers signals; elsewhere an interrupt cannot
  arrive.)

The copies go into buffers that the transaction keeps between uses, so a training loop
allocates them once.

>>> import numpy as np
>>> w, tx = np.ones(3), Transaction()
>>> try:
...     with tx:
...         tx.save(w); w += 1; raise FloatingPointError
... except FloatingPointError:
...     pass
>>> w
array([1., 1., 1.])
"""
from __future__ import annotations

import contextlib
import copy
import signal
import threading

import numpy as np


@contextlib.contextmanager
def held_interrupts():
    """Hold SIGINT for the duration of the block, then deliver it (re-raising the
    ``KeyboardInterrupt`` after the block, or calling the handler that was installed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGINT)
        if previous is None:                    # a handler not set from Python: cannot restore it
            raise ValueError
        received = []
        signal.signal(signal.SIGINT, lambda signum, frame: received.append((signum, frame)))
    except (ValueError, OSError, TypeError):     # no signal support here: nothing to hold
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(*received[0])
            elif previous == signal.default_int_handler or previous == signal.SIG_DFL:
                raise KeyboardInterrupt


class Transaction:
    """Undo log for one block: ``save(array, ...)`` before changing arrays in place,
    ``snapshot(obj)`` before changing an object's attributes.  Leaving the block by an
    exception restores everything saved; leaving it normally keeps the changes."""

    def __init__(self):
        self._pool: list = []            # backup buffers kept for the next transaction
        self._saved: list = []           # (array, backup) in save order
        self._objects: list = []         # (object, attribute snapshot)
        self._seen: set = set()

    def save(self, *arrays) -> None:
        """Copy each array aside (once per transaction) before it is changed in place."""
        for a in arrays:
            if a is None or id(a) in self._seen:
                continue
            self._seen.add(id(a))
            k = len(self._saved)
            if k == len(self._pool) or self._pool[k].shape != a.shape or self._pool[k].dtype != a.dtype:
                buf = np.empty_like(a)
                if k == len(self._pool):
                    self._pool.append(buf)
                else:
                    self._pool[k] = buf
            np.copyto(self._pool[k], a)
            self._saved.append((a, self._pool[k]))

    def snapshot(self, obj) -> None:
        """Remember ``obj``'s attributes (containers copied one level deep), or a dict's
        items."""
        target = obj if isinstance(obj, dict) else vars(obj)
        state = {k: copy.copy(v) if isinstance(v, (dict, list, set)) else v
                 for k, v in target.items()}
        self._objects.append((target, state))

    def __enter__(self):
        self._saved, self._objects, self._seen = [], [], set()
        self._hold = held_interrupts()
        self._hold.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is not None:
                for a, backup in reversed(self._saved):
                    np.copyto(a, backup)
                for target, state in reversed(self._objects):
                    target.clear()
                    target.update(state)
        finally:
            self._saved, self._objects, self._seen = [], [], set()
            self._hold.__exit__(None, None, None)
        return False


def state_arrays(state):
    """The arrays inside an optimizer state (None, an array, or nested tuples/lists)."""
    if state is None:
        return []
    if isinstance(state, np.ndarray):
        return [state]
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in state_arrays(s)]
    return []


__all__ = ["Transaction", "held_interrupts", "state_arrays"]
