"""A Module's device list (``Module(context=[...], work_load_list=...)``) and what MXNet's
``merge_multi_context=False`` shows of it.

symnorm computes the whole batch at once on its one device.  MXNet splits each batch over
the contexts in proportion to ``work_load_list`` and keeps one output array per context;
``get_outputs(merge_multi_context=False)`` gives those.  Here they are the same slices of
the whole-batch result along each array's batch axis (the ``N`` of its layout): for ops that
treat samples independently the very values MXNet's devices hold (training-mode BatchNorm
normalizes the whole batch here, each device's part there).  ``group2ctxs`` (model
parallelism by ``ctx_group``) is checked and kept; the numbers are the same, every array
stays on the one device."""
from __future__ import annotations

from ..context import Context, cpu
from ..core.errors import BindError, ParamError


def batch_axis(layout) -> int:
    """MXNet's ``DataDesc.get_batch_axis``: where ``N`` is in ``layout`` (0 without one)."""
    return 0 if not layout else layout.find("N")


def split_batch(batch_size: int, work_load: list) -> list:
    """The slices of ``range(batch_size)`` each context takes: shares rounded (half to even,
    as Python's round) from ``work_load``, the last topped up to the batch size."""
    total = float(sum(work_load))
    counts = [round(w * batch_size / total) for w in work_load]
    counts[-1] += max(batch_size - sum(counts), 0)
    out, end = [], 0
    for n in counts:
        begin, end = min(end, batch_size), min(end + n, batch_size)
        if begin >= end:
            raise BindError("a batch of %d split over %d contexts (work loads %s) leaves a "
                            "context no samples" % (batch_size, len(work_load), work_load))
        out.append(slice(begin, end))
    return out


def _check_groups(group2ctxs, n):
    """MXNet's ``group2ctxs`` (``ctx_group`` attribute -> context(s), one dict for all
    contexts or a list of one per context), checked and kept.  symnorm places every node on
    its one device, so the groups do not change what is computed."""
    if group2ctxs is None:
        return None
    per = group2ctxs if isinstance(group2ctxs, list) else [group2ctxs] * n
    if len(per) != n:
        raise ParamError("Module: group2ctxs is a list of %d dicts for %d contexts"
                         % (len(per), n))
    for groups in per:
        if not isinstance(groups, dict):
            raise ParamError("Module: group2ctxs must map ctx_group names to contexts, got %r"
                             % (groups,))
        for name, where in groups.items():
            if not all(isinstance(c, Context) for c in
                       (where if isinstance(where, list) else [where])) or where == []:
                raise ParamError("Module: group2ctxs[%r] must be a Context or a list of them, "
                                 "got %r" % (name, where))
    return per


class Contexts:
    """The contexts a Module was given and their work loads."""

    def __init__(self, context=None, work_load_list=None, group2ctxs=None):
        ctxs = list(context) if isinstance(context, (list, tuple)) else [context or cpu()]
        bad = [c for c in ctxs if not isinstance(c, Context)]
        if bad or not ctxs:
            raise ParamError("Module: context must be a Context or a list of them, got %r"
                             % (context,))
        loads = [1] * len(ctxs) if work_load_list is None else list(work_load_list)
        if len(loads) != len(ctxs) or any(not w > 0 for w in loads):
            raise ParamError("Module: work_load_list needs one positive number per context "
                             "(%d), got %r" % (len(ctxs), work_load_list))
        self.contexts, self.work_load = ctxs, loads
        self.group2ctxs = _check_groups(group2ctxs, len(ctxs))

    def per_context(self, arrays, axes, batch_size):
        """``[[part for each context] for each array]``: each array cut along its batch
        axis (``axes``) as MXNet splits the batch; an array without the batch there (a
        reduced loss, say) is not split and appears once."""
        slices = split_batch(batch_size, self.work_load) \
            if len(self.contexts) > 1 and batch_size else None
        out = []
        for a, axis in zip(arrays, axes):
            if slices is None or axis < 0 or a.ndim <= axis or a.shape[axis] != batch_size:
                out.append([a])
            else:
                index = (slice(None),) * axis
                out.append([a[index + (s,)] for s in slices])
        return out


__all__ = ["Contexts", "batch_axis", "split_batch"]
