"""``mx.mod.BaseModule``: the interface every module implements, and what is built on it
alone -- ``forward_backward``, ``fit`` (``fit.FitLoop``), ``score``, ``iter_predict`` and
``predict``.  ``Module`` is the one
implementation symnorm has; a subclass of ``BaseModule`` that implements bind,
init_params, init_optimizer, forward, backward, update, update_metric and get_params can
be trained by the same ``fit``, as in MXNet."""
from __future__ import annotations

import logging

import numpy as np

from . import metric as _metric
from .callback import BatchEndParam
from .fit import FitLoop, _call
from .io import DataBatch


class BaseModule(FitLoop):
    """MXNet's abstract module: state flags and the methods a module must provide."""

    _distributed = False        # Module: whether a data-parallel job trains it
    _rank0 = True               # Module: whether this process logs and saves

    def __init__(self, logger=logging):
        self.logger = logger
        self.binded = self.for_training = self.inputs_need_grad = False
        self.params_initialized = self.optimizer_initialized = False
        self._symbol = None

    symbol = property(lambda self: self._symbol)

    def forward_backward(self, data_batch):
        """``forward(is_train=True)`` then ``backward()`` on one batch."""
        self.forward(data_batch, is_train=True)
        self.backward()

    def score(self, eval_data, eval_metric, num_batch=None, batch_end_callback=None,
              score_end_callback=None, reset=True, epoch=0):
        """Run inference over ``eval_data`` and return the metric's ``[(name, value)]``.
        Padded samples of a last batch are left out (MXNet 1.9.1 counts them).  The
        callbacks get a ``BatchEndParam`` after every batch and once at the end."""
        eval_metric = _metric.create(eval_metric)
        eval_metric.reset()
        nbatch = -1
        for outputs, nbatch, batch in self.iter_predict(eval_data, num_batch, reset):
            keep = len(outputs[0]) if outputs else None
            eval_metric.update([l[:keep] for l in batch.label], outputs)
            _call(batch_end_callback, BatchEndParam(epoch, nbatch, eval_metric, locals()))
        if self._distributed:
            self._kv.reduce_metric(eval_metric)
        _call(score_end_callback, BatchEndParam(epoch, nbatch, eval_metric, locals()))
        return eval_metric.get_name_value()

    def iter_predict(self, eval_data, num_batch=None, reset=True, sparse_row_id_fn=None):
        """Yield ``(outputs, batch index, batch)`` for each batch of ``eval_data`` in
        inference mode, the outputs without the batch's padding (MXNet's ``iter_predict``;
        the arrays are the executor's and are replaced by the next forward)."""
        if reset:
            eval_data.reset()
        for nbatch, batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.forward(batch, is_train=False)
            keep = len(batch.data[0]) - batch.pad
            yield [o[:keep] for o in self.get_outputs()], nbatch, batch

    def predict(self, eval_data, num_batch=None, merge_batches=True, reset=True, always_output_list=False):
        """Outputs over ``eval_data`` (padding removed), concatenated per output.  An
        array instead of an iterator is one batch: its first output comes back (MXNet's
        shortcut, here in inference mode)."""
        if isinstance(eval_data, np.ndarray) or hasattr(eval_data, "asnumpy"):
            self.forward(DataBatch([eval_data]), is_train=False)
            return self.get_outputs()[0].copy()
        outs = [[o.copy() for o in outputs]
                for outputs, _, _ in self.iter_predict(eval_data, num_batch, reset)]
        if not merge_batches:
            return outs
        merged = [np.concatenate(parts) for parts in zip(*outs)] if outs else []
        return merged if (always_output_list or len(merged) != 1) else merged[0]

    def _abstract(self, *args, **kwargs):
        raise NotImplementedError("%s does not implement this BaseModule method"
                                  % type(self).__name__)

    bind = init_params = set_params = init_optimizer = forward = backward = _abstract
    update = update_metric = get_params = get_outputs = get_input_grads = _abstract
    install_monitor = _abstract


__all__ = ["BaseModule"]
