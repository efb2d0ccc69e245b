"""Saving and restoring ``Module``'s optimizer state (momentum, Adam's moments, update
counts) as an ``nd.save`` file.  A mixin of ``Module``."""
from __future__ import annotations

import numpy as np

from ..core.errors import BindError


class OptimizerStates:
    """``Module``'s ``save_optimizer_states``/``load_optimizer_states``; they use the
    module's ``_param_names``, ``_optimizer``, ``_states`` and executor."""

    def save_optimizer_states(self, fname):
        """Write the optimizer's per-parameter states (momentum, Adam's moments, ...) and
        update counts to ``fname``, atomically: an ``nd.save`` file with keys
        ``"<param>:<j>"`` (the j-th state array) and ``"<param>:count"``.  (MXNet pickles its
        updater instead; such files need MXNet to read.)"""
        from ..interop import nd
        nd.save(fname, self._optimizer_states())

    def _optimizer_states(self) -> dict:
        """What ``save_optimizer_states`` writes, as a dict for ``nd.save``."""
        if not self.optimizer_initialized:
            raise BindError("Module: call init_optimizer() before save_optimizer_states()")
        flat = {}
        for i, st in self._states.items():
            for j, a in enumerate(_slots(st)):
                if a is not None:
                    flat["%s:%d" % (self._param_names[i], j)] = a
        for i, count in self._optimizer._index_update_count.items():
            flat["%s:count" % self._param_names[i]] = np.array([count], np.int64)
        return flat

    def load_optimizer_states(self, fname):
        """Restore what ``save_optimizer_states`` wrote, so training resumes exactly
        (momentum, moments and Adam's bias-correction step).  Every array is checked
        against the state this module's optimizer keeps for that parameter before any is
        applied; on a mismatch nothing changes."""
        if not self.optimizer_initialized:
            raise BindError("Module: call init_optimizer() before load_optimizer_states()")
        from ..interop import nd
        self._apply_optimizer_states(nd.load(fname), fname)

    def _apply_optimizer_states(self, saved, fname):
        """Check every array of a states file (``fname`` names it in errors) against this
        module's optimizer, then apply them all."""
        from ..interop import nd
        if not isinstance(saved, dict):
            raise nd.ParamsFileError("%s: not an optimizer states file (an unnamed list)" % fname)
        index = {n: i for i, n in enumerate(self._param_names)}
        parts, counts = {}, {}
        for key, arr in saved.items():
            name, _, slot = key.rpartition(":")
            if name not in index:
                raise nd.ParamsFileError("%s: state %r names no parameter of this module "
                                         "(parameters: %s)" % (fname, key, ", ".join(self._param_names)))
            if slot == "count" and arr.size == 1 and arr.dtype.kind in "iu":
                counts[index[name]] = int(arr.ravel()[0])
            elif slot.isdigit():
                parts.setdefault(index[name], {})[int(slot)] = arr
            else:
                raise nd.ParamsFileError("%s: key %r is not '<param>:<state number>' or "
                                         "'<param>:count' (one integer)" % (fname, key))
        states = {}
        for i, got in parts.items():
            name = self._param_names[i]
            fresh = self._optimizer.create_state_multi_precision(i, self._exec.np_arg_dict[name])
            slots = _slots(fresh)
            want = [j for j, a in enumerate(slots) if a is not None]
            if sorted(got) != want:
                raise nd.ParamsFileError("%s: parameter %r has %d state array(s), %s keeps %d"
                                         % (fname, name, len(got), type(self._optimizer).__name__,
                                            len(want)))
            for j in want:
                if got[j].shape != slots[j].shape:
                    raise nd.ParamsFileError("%s: state %d of %r has shape %s, expected %s"
                                             % (fname, j, name, got[j].shape, slots[j].shape))
                slots[j][...] = got[j]
            states[i] = fresh
        # all checked: commit
        self._states = states
        self._optimizer._index_update_count = counts
        self._optimizer.num_update = max(counts.values(), default=self._optimizer.num_update)


def _slots(state) -> list:
    """The state's arrays in order, None where it has none, nested tuples flattened (a
    multi-precision ``(master, (mean, var))`` is three slots; one level numbers as before)."""
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _slots(s)]
    return [state]


__all__ = ["OptimizerStates"]
