"""The executor's arrays as users see them: NDArray views (MXNet's type) of the plain numpy
arrays the runtime computes on.

A numpy ufunc on an ndarray subclass costs about half a microsecond more (the result is
wrapped), so the runtime works on plain arrays only (``np_arg_dict``, ``np_grad_dict``,
``np_aux_dict``, ``np_outputs``, which symnorm's own layers use too) and the public
accessors hand out views: no copy, writes through, one view per bound array (made once,
made again only when the array behind a name is replaced: new outputs after a forward).
"""
from __future__ import annotations

import numpy as np

from ..core.ndarray import NDArray


def _views(arrays: dict, cache: dict) -> dict:
    out = {}
    for k, a in arrays.items():
        hit = cache.get(k)
        if hit is None or hit[0] is not a:
            hit = cache[k] = (a, None if a is None else a.view(NDArray))
        out[k] = hit[1]
    return out


class PublicArrays:
    """Mixin of Executor: ``arg_dict``, ``grad_dict``, ``aux_dict`` and ``outputs`` as
    NDArray views of ``np_arg_dict``, ``np_grad_dict``, ``np_aux_dict``, ``np_outputs``
    (assigning to the public name sets the plain one)."""

    def _view_cache(self, which) -> dict:
        caches = self.__dict__.setdefault("_ndarray_views", {})
        return caches.setdefault(which, {})

    @property
    def arg_dict(self) -> dict:
        return _views(self.np_arg_dict, self._view_cache("arg"))

    @arg_dict.setter
    def arg_dict(self, value):
        self.np_arg_dict = value

    @property
    def grad_dict(self) -> dict:
        return _views(self.np_grad_dict, self._view_cache("grad"))

    @grad_dict.setter
    def grad_dict(self, value):
        self.np_grad_dict = value

    @property
    def aux_dict(self) -> dict:
        return _views(self.np_aux_dict, self._view_cache("aux"))

    @aux_dict.setter
    def aux_dict(self, value):
        self.np_aux_dict = value

    @property
    def outputs(self) -> list:
        # read after every forward: kept lean (one attribute test when nothing changed)
        arrays = self.np_outputs
        views = self.__dict__.get("_output_views")
        if views is None or views[0] is not arrays:         # a forward made new outputs
            views = self._output_views = (arrays, [a.view(NDArray) for a in arrays])
        return list(views[1])

    @outputs.setter
    def outputs(self, value):
        self.np_outputs = value

    def _show_outputs(self, outs):
        """Put ``outs`` (a reshaped executor's new outputs) into the leading part of this
        executor's outputs where they fit, as MXNet's shared output memory shows them.  Into
        new arrays, not the old ones: those may be state this executor's own backward reads
        (sigmoid keeps its output)."""
        shown = []
        for mine, new in zip(self.np_outputs, outs):
            if mine.dtype == new.dtype and new.size <= mine.size:
                mine = np.array(mine, order="C")
                mine.reshape(-1)[:new.size] = new.reshape(-1)
            shown.append(mine)
        self.np_outputs = shown


__all__ = ["PublicArrays"]
