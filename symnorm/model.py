"""Checkpoints in MXNet's layout: ``prefix-symbol.json`` + ``prefix-%04d.params`` with
``arg:``/``aux:`` names (``mx.model.save_checkpoint`` / ``load_checkpoint``)."""
from __future__ import annotations

import numpy as np

from . import nd
from .errors import SymnormError
from .serialize import load as load_symbol


def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params, remove_amp_cast=True):
    """Write ``prefix-symbol.json`` (when ``symbol`` is given) and ``prefix-%04d.params``,
    each atomically: a crash never leaves a half-written file in place of a good one."""
    if symbol is not None:
        symbol.save("%s-symbol.json" % prefix)
    blob = {"arg:%s" % k: np.asarray(v) for k, v in arg_params.items()}
    blob.update({"aux:%s" % k: np.asarray(v) for k, v in (aux_params or {}).items()})
    nd.save("%s-%04d.params" % (prefix, epoch), blob)


def load_params(fname):
    """``(arg_params, aux_params)`` from a .params file with arg:/aux: names."""
    data = nd.load(fname)
    if not isinstance(data, dict):
        raise nd.ParamsFileError("%s holds an unnamed list of arrays, not arg:/aux: parameters" % fname)
    arg, aux = {}, {}
    for k, v in data.items():
        kind, sep, name = k.partition(":")
        if not sep or kind not in ("arg", "aux"):
            raise nd.ParamsFileError("%s: key %r is not 'arg:<name>' or 'aux:<name>' (a Gluon "
                                     "save_parameters file? load it with symnorm.nd.load)" % (fname, k))
        (arg if kind == "arg" else aux)[name] = v
    return arg, aux


def load_checkpoint(prefix, epoch):
    """``(symbol, arg_params, aux_params)`` from ``prefix-symbol.json``/``prefix-%04d.params``."""
    symbol = load_symbol("%s-symbol.json" % prefix)
    arg, aux = load_params("%s-%04d.params" % (prefix, epoch))
    return symbol, arg, aux


__all__ = ["save_checkpoint", "load_checkpoint", "load_params"]
