"""``ExecOptions``: everything an ``Executor`` was bound with besides its arrays and plan.

One frozen record, so that whatever derives a new executor from an old one (``reshape``;
``Module`` swaps in a reshaped executor whenever a batch has another size, e.g. an eval
iterator) passes the options on *whole*.  Before this record each option was a loose
attribute and ``reshape`` forwarded only the ones it knew of: a reshaped executor lost its
communicator (SyncBatchNorm silently fell back to local statistics after ``Module.fit``
evaluated on another batch size), its monitor, ``nan_check`` and the in-place setting.

A change (``Executor.set_collective``, ``set_monitor_callback``, ``ex.nan_check = True``)
makes a new record with ``dataclasses.replace``; nothing mutates a record in place.  A new
option is a new field here, and is then carried by ``reshape`` with no further code (the
test in tests/test_exec_options.py checks every field generically).
"""
from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ..core.errors import BindError

GRAD_REQS = ("null", "write", "add")
AUX_UPDATES = ("backward", "forward")


@dataclass(frozen=True)
class ExecOptions:
    """How an executor runs (all but the arrays and the plan).

    ``grad_req``     per argument: 'null', 'write' or 'add' (read-only mapping)
    ``aux_update``   when staged aux values are committed: 'backward' (MXNet) or 'forward'
    ``ctx``          the device context (symnorm computes on the CPU whatever it is)
    ``layout_pass``  whether the bind-time batch-last kernels (``kernels.batch_last``) may be chosen;
                     decided once at bind, so a reshaped executor makes the same choice
    ``inplace``      memory policy: ops may overwrite their dying input (``Plan.inplace``)
    ``nan_check``    raise ``FloatingPointError`` at the first non-finite output/gradient
    ``collective``   the communicator for collective ops (SyncBatchNorm) in data-parallel runs
    ``monitor``      ``callback(name, array)`` for every op output (``set_monitor_callback``)
    ``monitor_all``  ... and every op input
    """
    grad_req: Mapping[str, str]
    aux_update: str = "backward"
    ctx: Any = None
    layout_pass: bool = True
    inplace: bool = True
    nan_check: bool = False
    collective: Any = None
    monitor: Optional[Callable] = None
    monitor_all: bool = False

    def __post_init__(self):
        if self.aux_update not in AUX_UPDATES:
            raise BindError("aux_update must be one of %s, got %r" % (AUX_UPDATES, self.aux_update))
        bad = {k: r for k, r in self.grad_req.items() if r not in GRAD_REQS}
        if bad:
            k, r = next(iter(bad.items()))
            raise BindError("grad_req=%s is not a valid input; only 'null', 'write', and 'add' "
                            "are supported (argument %r)" % (r, k))
        if self.monitor is not None and not callable(self.monitor):
            raise BindError("the monitor callback must be callable, got %r" % (self.monitor,))
        # a private read-only copy: a record shared by two executors cannot change under one
        if not isinstance(self.grad_req, types.MappingProxyType):
            object.__setattr__(self, "grad_req", types.MappingProxyType(dict(self.grad_req)))

    def replace(self, **changes) -> "ExecOptions":
        """A copy with ``changes`` (``dataclasses.replace``, validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def plan_layout(self) -> bool:
        """Whether plans may use the batch-last rewrite: not while a monitor watches (it must
        see every array with the shape the symbol gives it)."""
        return self.layout_pass and self.monitor is None


__all__ = ["ExecOptions", "GRAD_REQS", "AUX_UPDATES"]
