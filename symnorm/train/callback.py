"""Training callbacks (``mx.callback``) and the per-epoch progress bar of ``Module.fit``."""
from __future__ import annotations

import logging
import sys
import os
import time


# Training progress goes to the root logger through ``logging.info``, as MXNet 1.9.1 does:
# with only ``logging.getLogger().setLevel(logging.INFO)`` (the MXNet tutorials' setup) the
# lines appear as ``INFO:root:Epoch[0] Train-accuracy=...``, because ``logging.info``
# installs a default handler when the root logger has none.  symnorm's own warnings use
# the "symnorm" logger.
_LOG = logging


class BatchEndParam:
    """What a batch-end callback receives (MXNet's BatchEndParam)."""
    def __init__(self, epoch, nbatch, eval_metric, locals=None):
        self.epoch, self.nbatch, self.eval_metric, self.locals = epoch, nbatch, eval_metric, locals


class Speedometer:
    """Log ``Epoch[e] Batch [a-b]\tSpeed: N samples/sec\t<metric>=<value>`` every
    ``frequent`` batches, MXNet 1.9.1's lines: with ``auto_reset`` the metric covers the
    batches since the last line (``reset_local``; the epoch's global value is kept), else
    ``Batch [0-b]``; ``Iter[e] Batch [b]`` without a metric."""
    def __init__(self, batch_size, frequent=50, auto_reset=True, logger=None):
        self.batch_size, self.frequent, self.auto_reset = batch_size, frequent, auto_reset
        self.logger = logger or _LOG
        self.init = False
        self.tic = 0.0
        self.last_count = 0

    def __call__(self, param):
        count = param.nbatch
        if self.last_count > count:
            self.init = False
        self.last_count = count
        if not self.init:
            self.init, self.tic = True, time.time()
            return
        if count % self.frequent == 0:
            elapsed = time.time() - self.tic
            speed = self.frequent * self.batch_size / elapsed if elapsed > 0 else float("inf")
            metric = param.eval_metric
            if metric is None:
                self.logger.info("Iter[%d] Batch [%d]\tSpeed: %.2f samples/sec", param.epoch, count, speed)
            else:
                first = count - self.frequent if self.auto_reset else 0
                msg = "Epoch[%d] Batch [%d-%d]\tSpeed: %.2f samples/sec" % (param.epoch, first, count, speed)
                msg += "".join("\t%s=%f" % nv for nv in metric.get_name_value())
                if self.auto_reset:
                    metric.reset_local()
                self.logger.info(msg)
            self.tic = time.time()


def do_checkpoint(prefix, period=1):
    """An epoch-end callback saving ``prefix-symbol.json``/``prefix-%04d.params`` every
    ``period`` epochs, as one set (``model.save_checkpoint``: a crash leaves the old set or
    the new one, never a mix).  The prefix's directory is created here, when the
    callback is made, so a missing ``out/`` does not end a training run at its first epoch."""
    from ..interop.model import save_checkpoint
    period = int(max(1, period))
    directory = os.path.dirname(os.fspath(prefix))
    if directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise OSError("do_checkpoint(%r): cannot create the directory %s: %s"
                          % (prefix, directory, exc.strerror)) from None

    def _callback(iter_no, sym, arg, aux):
        if (iter_no + 1) % period == 0:
            save_checkpoint(prefix, iter_no + 1, sym, arg, aux)
    return _callback


def module_checkpoint(mod, prefix, period=1, save_optimizer_states=False):
    """An epoch-end callback: ``mod.save_checkpoint(prefix, epoch, save_optimizer_states)``
    every ``period`` epochs (MXNet's), so training can resume exactly with
    ``Module.load(..., load_optimizer_states=True)``."""
    period = int(max(1, period))

    def _callback(iter_no, sym=None, arg=None, aux=None):
        if (iter_no + 1) % period == 0:
            mod.save_checkpoint(prefix, iter_no + 1, save_optimizer_states)
    return _callback


def log_train_metric(period, auto_reset=False):
    """A batch-end callback logging ``Iter[e] Batch[b] Train-<metric>=<value>`` every
    ``period`` batches (MXNet's), restarting the local metric with ``auto_reset``."""
    def _callback(param):
        if param.nbatch % period == 0 and param.eval_metric is not None:
            for name, value in param.eval_metric.get_name_value():
                _LOG.info("Iter[%d] Batch[%d] Train-%s=%f", param.epoch, param.nbatch, name, value)
            if auto_reset:
                param.eval_metric.reset_local()
    return _callback


class LogValidationMetricsCallback:
    """An ``eval_end_callback`` logging ``Epoch[e] Validation-<metric>=<value>`` (MXNet's)."""
    def __call__(self, param):
        if param.eval_metric is None:
            return
        for name, value in param.eval_metric.get_name_value():
            _LOG.info("Epoch[%d] Validation-%s=%f", param.epoch, name, value)


class Progress:
    """A per-epoch progress bar with running loss/metric and samples/s: tqdm when it is
    installed, a one-line text fallback otherwise; nothing when disabled or when the
    stream is not a terminal (a log file or a pipe gets the log lines alone, no frames)."""

    def __init__(self, total, epoch, enabled=True, stream=None):
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        enabled = enabled and bool(isatty and isatty())
        self.enabled, self.total, self.epoch = enabled, total, epoch
        self.count, self.samples, self.t0 = 0, 0, time.perf_counter()
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, desc="Epoch %d" % epoch, unit="batch",
                                file=self.stream, leave=False, dynamic_ncols=True)
            except ImportError:
                self.bar = None

    def update(self, batch_size, metrics: dict):
        if not self.enabled:
            return
        self.count += 1
        self.samples += batch_size
        rate = self.samples / max(time.perf_counter() - self.t0, 1e-9)
        text = " ".join("%s=%.4f" % kv for kv in metrics.items()) + " %.0f samples/s" % rate
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
        elif self.count == self.total or self.count % max(1, self.total // 20) == 0:
            self.stream.write("\rEpoch %d [%d/%s] %s" % (self.epoch, self.count, self.total or "?", text))
            self.stream.flush()

    def close(self):
        """End the bar (a newline for the text fallback)."""
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.count:
            self.stream.write("\n")
            self.stream.flush()


__all__ = ["Speedometer", "do_checkpoint", "module_checkpoint", "log_train_metric",
           "LogValidationMetricsCallback", "BatchEndParam", "Progress"]
