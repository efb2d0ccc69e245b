"""Graph passes for BatchNorm: freeze it for fine-tuning, fold it into the layer before it
for inference.  Passes return new symbols; the input graph is never changed."""
from __future__ import annotations

import dataclasses

import numpy as np

from .core.graph import rebuild  # noqa: F401  (symnorm.passes.rebuild is public)
from .core.ir import dfs_postorder, users
from .ops.conv import Convolution
from .ops.dense import FullyConnected
from .ops.norm import BatchNorm
from .core.params import to_attr_string
from .core.symbol import Entry, Node, Symbol


def _with_params(node: Node, inputs, **changes) -> Node:
    op = dataclasses.replace(node.op, **changes)
    attrs = dict(node.attrs)
    attrs.update({k: to_attr_string(v) for k, v in changes.items()})
    return Node(op, node.name, tuple(inputs), attrs)


def freeze_batchnorm(symbol: Symbol):
    """Switch every BatchNorm to ``use_global_stats=True`` (normalize with the moving
    statistics, never update them, also in training: the frozen-backbone fine-tuning case).

    Returns ``(new_symbol, [gamma and beta argument names])``; give those ``grad_req='null'``
    (or ``lr_mult=0``) to freeze the affine part too, or leave them to fine-tune it.

    >>> import symnorm as sn
    >>> net = sn.sym.BatchNorm(sn.sym.Variable('x'), name='bn')
    >>> frozen, names = sn.freeze_batchnorm(net)
    >>> names, frozen.attr('use_global_stats')
    (['bn_gamma', 'bn_beta'], 'True')
    """
    names = []

    def transform(node, inputs):
        if not isinstance(node.op, BatchNorm):
            return None
        names.extend(e.node.name for e in inputs[1:3] if e.node.is_variable)
        new = _with_params(node, inputs, use_global_stats=True)
        return [Entry(new, i) for i in range(new.num_outputs())]
    return rebuild(symbol, transform), names


def fold_batchnorm(symbol: Symbol, arg_params: dict, aux_params: dict):
    """Fold each BatchNorm that directly follows a Convolution or FullyConnected (and is
    that layer's only consumer) into the layer's weight and bias, for inference:

        scale = gamma / sqrt(moving_var + eps)     (gamma = 1 under fix_gamma)
        W' = W · scale (per output channel),  b' = (b - moving_mean) · scale + beta

    Returns ``(new_symbol, new_arg_params, new_aux_params)``.  The folded graph's inference
    outputs equal the original's within float32 rounding.  BatchNorms that do not qualify
    (another op before them, ``output_mean_var``, a channel axis other than the layer's
    output channels) are kept as they are."""
    nodes = dfs_postorder(symbol.entries)
    consumers = users(nodes)
    heads = {e.node for e in symbol.entries}
    args = {k: np.asarray(v) for k, v in arg_params.items()}
    aux = {k: np.asarray(v) for k, v in aux_params.items()}

    def foldable(bn: Node) -> bool:
        src = bn.inputs[0].node
        if not isinstance(src.op, (Convolution, FullyConnected)) or bn.op.output_mean_var:
            return False
        if len(consumers[src]) != 1 or src in heads:
            return False
        ndim = 2 if isinstance(src.op, FullyConnected) else len(src.op.kernel) + 2
        if isinstance(src.op, FullyConnected) and not src.op.flatten:
            return False
        if bn.op.axis % ndim != 1:
            return False
        names = [src.inputs[1].node.name] + [e.node.name for e in bn.inputs[1:]]
        return all(n in args or n in aux for n in names)

    def transform(node, inputs):
        if not (isinstance(node.op, BatchNorm) and foldable(node)):
            return None
        layer = inputs[0].node
        op = node.op
        gamma = args.pop(node.inputs[1].node.name)
        beta = args.pop(node.inputs[2].node.name)
        mm = aux.pop(node.inputs[3].node.name)
        mv = aux.pop(node.inputs[4].node.name)
        w_name = layer.inputs[1].node.name
        w = args[w_name]
        scale = op.gamma_used(gamma) / np.sqrt(mv + op.eps)
        args[w_name] = (w * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
        if layer.op.no_bias:
            bias_var = Node(None, "%s_bias" % layer.name, (), {})
            bias = np.zeros_like(beta)
            layer_inputs = tuple(layer.inputs) + (Entry(bias_var, 0),)
        else:
            bias_var = layer.inputs[2].node
            bias = args[bias_var.name]
            layer_inputs = layer.inputs
        args[bias_var.name] = ((bias - mm) * scale + beta).astype(w.dtype)
        new = _with_params(layer, layer_inputs, no_bias=False)
        return [Entry(new, 0)] * node.num_outputs()
    new_sym = rebuild(symbol, transform)
    keep = set(new_sym.list_arguments())
    keep_aux = set(new_sym.list_auxiliary_states())
    return (new_sym, {k: v for k, v in args.items() if k in keep},
            {k: v for k, v in aux.items() if k in keep_aux})


__all__ = ["rebuild", "freeze_batchnorm", "fold_batchnorm"]
