"""``mx.mod.BaseModule``: the interface every module implements, and what is built on it
alone -- ``forward_backward`` and ``fit`` (``fit.FitLoop``).  ``Module`` is the one
implementation symnorm has; a subclass of ``BaseModule`` that implements bind,
init_params, init_optimizer, forward, backward, update, update_metric and get_params can
be trained by the same ``fit``, as in MXNet."""
from __future__ import annotations

import logging

from .fit import FitLoop


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

    def _abstract(self, *args, **kwargs):
        raise NotImplementedError("%s does not implement this BaseModule method"
                                  % type(self).__name__)

    bind = init_params = set_params = init_optimizer = forward = backward = _abstract
    update = update_metric = get_params = get_outputs = get_input_grads = _abstract
    install_monitor = _abstract


__all__ = ["BaseModule"]
