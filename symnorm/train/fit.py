"""``Module.fit``: MXNet's training loop (epochs of forward_backward, update and metric,
with a progress bar, MXNet's log lines, callbacks and validation), and what a rank of a
data-parallel job does when it leaves the loop early.  A mixin of ``Module``."""
from __future__ import annotations

import itertools
import time

from . import metric as _metric
from .callback import BatchEndParam, Progress


def _abort_job(store, exc):
    """Print why this rank stops and end every rank of the job (MPI_Abort), with the exit
    status the rank meant: ``sys.exit(n)``'s n, 130 for Ctrl-C, else 1."""
    import sys
    import traceback
    if isinstance(exc, Exception):
        traceback.print_exc()
    code = 130 if isinstance(exc, KeyboardInterrupt) else 1
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    print("symnorm: rank %d left fit early (%s: %s); aborting the job"
          % (store.rank, type(exc).__name__, exc), file=sys.stderr, flush=True)
    # MPI_Abort tears the launcher down at once: give it a moment to relay the message
    # (without it the line was lost in about 1 run of 10)
    time.sleep(0.5)
    store.collective.abort(code)


class FitLoop:
    """``Module``'s ``fit``; it uses the module's bind, init_params, init_optimizer,
    forward_backward, update, update_metric, score and get_params."""

    def fit(self, train_data, eval_data=None, eval_metric="acc", epoch_end_callback=None,
            batch_end_callback=None, kvstore="local", optimizer="sgd",
            optimizer_params=(("learning_rate", 0.01),), eval_end_callback=None,
            eval_batch_end_callback=None, initializer=None, arg_params=None, aux_params=None,
            allow_missing=False, force_rebind=False, force_init=False, begin_epoch=0,
            num_epoch=None, validation_metric=None, monitor=None, progress=True):
        """Train for ``num_epoch`` epochs with a per-epoch progress bar (tqdm if installed)
        and MXNet's log lines (``Epoch[0] Train-accuracy=...``, ``Time cost``,
        ``Validation-accuracy``)."""
        if num_epoch is None:
            raise ValueError("fit: num_epoch is required")
        from . import kv as _kv
        # the store first: a data-parallel job must abort on a failure anywhere in fit,
        # bind and init_params included (the other ranks would wait in a collective)
        store = _kv.create(kvstore if kvstore is not None else "local")
        job = store if store.num_workers > 1 else None
        try:
            self._fit(train_data, eval_data, eval_metric, epoch_end_callback, batch_end_callback,
                      store, optimizer, optimizer_params, initializer, arg_params, aux_params,
                      allow_missing, force_rebind, force_init, begin_epoch, num_epoch,
                      validation_metric, monitor, progress, eval_end_callback,
                      eval_batch_end_callback)
        except BaseException as exc:
            # a rank that leaves fit early in any way (an error, sys.exit in a callback,
            # Ctrl-C) must not leave the others waiting forever in a collective; a
            # DistributedError (graph mismatch, unequal batch counts) is raised by every
            # rank alike, so nobody waits and no abort is needed
            if job is not None and not isinstance(exc, _kv.DistributedError):
                _abort_job(job, exc)
            raise

    def _fit(self, train_data, eval_data, eval_metric, epoch_end_callback, batch_end_callback,
             kvstore, optimizer, optimizer_params, initializer, arg_params, aux_params,
             allow_missing, force_rebind, force_init, begin_epoch, num_epoch, validation_metric,
             monitor, progress, eval_end_callback=None, eval_batch_end_callback=None):
        self.bind(train_data.provide_data, train_data.provide_label, for_training=True,
                  force_rebind=force_rebind)
        self.init_params(**({} if initializer is None else {"initializer": initializer}),
                         arg_params=arg_params, aux_params=aux_params,
                         allow_missing=allow_missing, force_init=force_init)
        self.init_optimizer(kvstore=kvstore, optimizer=optimizer, optimizer_params=optimizer_params)
        if monitor is not None:
            self.install_monitor(monitor)       # a callable, or MXNet's Monitor (tic/toc_print)
        validation_metric = validation_metric or eval_metric
        eval_metric = _metric.create(eval_metric)
        loss = _metric.CrossEntropy(name="loss")
        batches = getattr(train_data, "num_data", None)
        total = -(-batches // train_data.batch_size) if batches else None
        for epoch in range(begin_epoch, num_epoch):
            tic = time.time()
            eval_metric.reset()
            loss.reset()
            bar = Progress(total, epoch, enabled=progress and self._rank0)
            batches = iter(train_data)
            for nbatch in itertools.count():
                batch = next(batches, None)
                if self._distributed:       # every rank must have a batch, or none
                    self._kv.agree_on_step(batch is not None, "epoch %d" % epoch, nbatch)
                if batch is None:
                    break
                if hasattr(monitor, "tic"):
                    monitor.tic()
                self.forward_backward(batch)
                self.update()
                if hasattr(monitor, "toc_print"):
                    monitor.toc_print()
                self.update_metric(eval_metric, batch.label)
                if bar.enabled:             # the running loss exists only for the bar
                    shown = dict(eval_metric.get_global_name_value())
                    out = self.get_outputs()[0]
                    if out.ndim == 2 and batch.label and batch.label[0].ndim == 1:
                        loss.update([batch.label[0]], [out])
                        shown = dict(loss.get_name_value(), **shown)
                    bar.update(len(batch.data[0]), shown)
                _call(batch_end_callback, BatchEndParam(epoch, nbatch, eval_metric, locals()))
            bar.close()
            if self._distributed:
                self._kv.reduce_metric(eval_metric)
            log = self.logger.info if self._rank0 else (lambda *a: None)
            for name, value in eval_metric.get_global_name_value():   # the whole epoch
                log("Epoch[%d] Train-%s=%f", epoch, name, value)
            log("Epoch[%d] Time cost=%.3f", epoch, time.time() - tic)
            if epoch_end_callback is not None and self._rank0:
                _call(epoch_end_callback, epoch, self._symbol, *self.get_params())
            if eval_data is not None:
                res = self.score(eval_data, validation_metric, epoch=epoch,
                                 batch_end_callback=eval_batch_end_callback,
                                 score_end_callback=eval_end_callback)
                for name, value in res:
                    log("Epoch[%d] Validation-%s=%f", epoch, name, value)
            train_data.reset()


def _call(callbacks, *args):
    """Call a callback, or each of a list of them, with ``args`` (None: nothing)."""
    if callbacks is None:
        return
    for cb in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:
        cb(*args)


__all__ = ["FitLoop"]
