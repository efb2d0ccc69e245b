"""Checkpoints in MXNet's layout: ``prefix-symbol.json`` + ``prefix-%04d.params`` with
``arg:``/``aux:`` names (``mx.model.save_checkpoint`` / ``load_checkpoint``)."""
from __future__ import annotations

import logging

import numpy as np

from . import checkpoint as _ckpt
from . import nd
from .checkpoint import CheckpointError
from ..core.ndarray import as_ndarray


def _nd(params: dict) -> dict:
    # MXNet hands out NDArrays; views of the loaded arrays, no copy
    return {k: as_ndarray(v) for k, v in params.items()}


def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params, remove_amp_cast=True):
    """Write ``prefix-symbol.json`` (when ``symbol`` is given) and ``prefix-%04d.params`` as
    one set: after a crash at any moment the old set or the new one loads, never a mix
    (``symnorm.checkpoint``; a ``prefix-%04d.manifest`` beside them records the set)."""
    _ckpt.save(prefix, epoch, symbol, arg_params, aux_params)
    logging.info('Saved checkpoint to "%s"', _ckpt.file_name(prefix, epoch, "params"))  # MXNet's line


def save_params(fname, arg_params, aux_params=None):
    """``arg_params``/``aux_params`` to a .params file with arg:/aux: names, atomically."""
    nd.save(fname, _ckpt.named_params(arg_params, aux_params))


def load_params(fname):
    """``(arg_params, aux_params)`` from a .params file with arg:/aux: names."""
    arg, aux = _ckpt.split_params(nd.load(fname), fname)
    return _nd(arg), _nd(aux)


def load_checkpoint(prefix, epoch):
    """``(symbol, arg_params, aux_params)`` from ``prefix-symbol.json``/``prefix-%04d.params``,
    checked against the set's manifest when it has one (``CheckpointError`` when a file
    differs from the one saved with it)."""
    symbol, arg, aux, _ = _ckpt.load(prefix, epoch)
    return symbol, _nd(arg), _nd(aux)


__all__ = ["save_checkpoint", "load_checkpoint", "save_params", "load_params", "CheckpointError"]


def label_variables(symbol) -> list:
    """Variables feeding the label slots of loss heads (``no_grad_inputs`` of an op whose
    ``head_grad`` is "ignore"): inputs that inference does not need (MXNet users'
    "prob_label is not presented" problem).  Other ops' ungraded inputs (Embedding's or
    take's indices) are data, not labels."""
    from ..core.ir import dfs_postorder
    out = []
    for n in dfs_postorder(symbol.entries):
        if n.op is None or n.op.head_grad != "ignore":
            continue
        names = n.op.input_names()
        for i, e in enumerate(n.inputs):
            if names[i] in n.op.no_grad_inputs and e.node.is_variable and e.node.name not in out:
                out.append(e.node.name)
    return out


class Predictor:
    """Inference on a trained symbol: give the data shapes, get outputs.  Label inputs of
    loss heads are detected and filled with zeros, never demanded.

    >>> import numpy as np, symnorm as sn
    >>> net = sn.sym.SoftmaxOutput(sn.sym.FullyConnected(sn.sym.Variable('data'), num_hidden=2, name='fc'), name='sm')
    >>> p = sn.model.Predictor(net, {'fc_weight': np.eye(2, 3), 'fc_bias': np.zeros(2)}, {}, {'data': (1, 3)})
    >>> p.predict(data=np.array([[1.0, 0.0, 0.0]]))[0].round(3).tolist()
    [[0.731, 0.269]]
    """

    def __init__(self, symbol, arg_params, aux_params, data_shapes: dict, allow_missing=False,
                 allow_extra=True):
        from ..core.errors import BindError
        self.symbol = symbol
        self.labels = label_variables(symbol)
        self.data_names = list(data_shapes)
        unknown = [k for k in self.data_names if k not in symbol.list_arguments()]
        if unknown:
            raise BindError("Predictor: %s are not inputs of the symbol (inputs: %s)"
                            % (", ".join(unknown), ", ".join(symbol.list_arguments())))
        self._exec = symbol.simple_bind(grad_req="null", **{k: tuple(v) for k, v in data_shapes.items()})
        needed = [k for k in symbol.list_arguments() if k not in self.data_names and k not in self.labels]
        missing = [k for k in needed if k not in arg_params]
        missing += [k for k in symbol.list_auxiliary_states() if k not in (aux_params or {})]
        if missing and not allow_missing:
            raise BindError("Predictor: parameters missing from the checkpoint: %s"
                            % ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
        self._exec.copy_params_from({k: v for k, v in arg_params.items() if k in self._exec.arg_dict},
                                    {k: v for k, v in (aux_params or {}).items() if k in self._exec.aux_dict},
                                    allow_extra_params=allow_extra)

    @classmethod
    def from_checkpoint(cls, prefix, epoch, data_shapes: dict, **kwargs):
        symbol, arg, aux = load_checkpoint(prefix, epoch)
        return cls(symbol, arg, aux, data_shapes, **kwargs)

    def predict(self, **inputs) -> list:
        """Outputs for the given input arrays (a new batch size rebinds transparently)."""
        from ..core.errors import BindError
        missing = [k for k in self.data_names if k not in inputs]
        if missing:
            raise BindError("Predictor.predict: missing input(s) %s" % ", ".join(missing))
        shapes = {k: np.asarray(v).shape for k, v in inputs.items()}
        if any(self._exec.arg_dict[k].shape != s for k, s in shapes.items()):
            self._exec = self._exec.reshape(partial_shaping=True, allow_up_sizing=True, **shapes)
        return [o.copy() for o in self._exec.forward(is_train=False, **inputs)]


__all__ += ["Predictor", "label_variables"]
