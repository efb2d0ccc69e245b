"""``mx.monitor.Monitor``: statistics of every op output, every backward step's gradients
(``<node>_backward_output<k>``) and the arguments and aux states, every
``interval`` batches, logged as ``Batch: <n> <name> <value>``.  ``Module.fit(monitor=...)``
installs it and calls ``tic`` before and ``toc_print`` after each batch, as MXNet's does."""
from __future__ import annotations

import logging
import re

import numpy as np

from ..core.ndarray import NDArray

_LOG = logging        # the root logger, as MXNet's Monitor


def _rms(x):
    """MXNet's default statistic: norm(x) / sqrt(size)."""
    x = np.asarray(x, np.float64)
    return float(np.sqrt(np.sum(x * x) / max(x.size, 1)))


def _read_only(array):
    """What ``stat_func`` gets, as in MXNet: a read-only NDArray view (no copy) of the
    executor's array, so ``x.asnumpy()`` works and the statistic cannot change the array."""
    view = np.asarray(array).view(NDArray)
    view.flags.writeable = False
    return view


def _text(stats) -> str:
    """A statistic (or a list of them) as MXNet prints it: each one-element array as its
    value, any other array as numpy prints it, each followed by a tab."""
    out = ""
    for v in stats if isinstance(stats, list) else [stats]:
        if isinstance(v, np.ndarray):
            v = np.asarray(v)
            out += str(v.reshape(-1)[0] if v.size == 1 and v.ndim <= 1 else v) + "\t"
        else:
            out += str(v) + "\t"
    return out


class Monitor:
    """Collect ``stat_func(array)`` (default: RMS, MXNet's ``norm/sqrt(size)``) of every op
    output, backward gradient, argument and aux state whose name matches ``pattern``, on
    every ``interval``-th batch.  A backward step reports one gradient per argument of
    its node, as MXNet names them: ``fc_backward_output0`` (data), ``...1`` (weight),
    ``...2`` (bias); ``<node>_backward_output`` when the node has one argument."""
    def __init__(self, interval, stat_func=None, pattern=".*", sort=False, monitor_all=False):
        if int(interval) < 1:
            raise ValueError("Monitor: interval must be a positive number of batches, got %r"
                             % (interval,))
        self.interval, self.stat_func = interval, stat_func or _rms
        self.pattern, self.sort, self.monitor_all = re.compile(pattern), sort, monitor_all
        self.exes, self.queue = [], []
        self.step, self.activated = 0, False

    def install(self, exe):
        """Watch ``exe``'s op outputs (``set_monitor_callback``)."""
        exe.set_monitor_callback(self._stat, self.monitor_all)
        self.exes.append(exe)

    def replace(self, old, new):
        """Watch ``new`` in place of ``old`` (a reshaped executor keeps its monitor callback;
        ``toc`` must read the new one's arrays, not the stale ones)."""
        self.exes = [new if e is old else e for e in self.exes]

    def _stat(self, name, array):
        if self.activated and self.pattern.match(name):
            self.queue.append((self.step, name, self.stat_func(_read_only(array))))

    def tic(self):
        """Start collecting if this batch is one of every ``interval``."""
        if self.step % self.interval == 0:
            self.queue, self.activated = [], True
        self.step += 1

    def toc(self):
        """End the batch: ``[(batch, name, value text)]`` of the outputs seen and the
        arguments matching ``pattern`` (empty for batches not collected)."""
        if not self.activated:
            return []
        for exe in self.exes:
            for bound in (exe.np_arg_dict, exe.np_aux_dict):
                for name, array in bound.items():
                    if self.pattern.match(name):
                        self.queue.append((self.step, name, self.stat_func(_read_only(array))))
        self.activated = False
        queue = sorted(self.queue, key=lambda r: r[1]) if self.sort else self.queue
        self.queue = []
        return [(n, k, _text(v)) for n, k, v in queue]

    def toc_print(self):
        """``toc`` and log every line."""
        for n, k, v in self.toc():
            _LOG.info("Batch: %7d %-30s %s", n, k, v)


__all__ = ["Monitor"]
