"""Binding: from a symbol and the user's shapes or arrays to everything an ``Executor`` is
made of (plan, argument/gradient/aux arrays, options), every input checked first.

``simple_bind_parts``/``bind_parts`` do the work of ``Symbol.simple_bind``/``Symbol.bind``
(whose entry points, ``symnorm.runtime.executor.simple_bind``/``bind``, construct the
``Executor`` from the parts); ``reshaped_arrays`` does ``Executor.reshape``'s.
"""
from __future__ import annotations

import warnings
from collections import Counter

import numpy as np

from ..context import cpu
from ..core.dtype import real_array
from ..core.errors import BindError, SymnormError
from ..core.ndarray import plain
from ..core.shape import shape_entries
from .kernels import batch_last as layout
from .exec_options import GRAD_REQS, ExecOptions
from .plan import build_plan, infer_for_bind


def normalize_grad_req(grad_req, arg_names, where_text) -> dict:
    """``grad_req`` as given to bind (a str, a list in argument order, a dict) as a dict
    for every argument."""
    if isinstance(grad_req, str):
        reqs = {k: grad_req for k in arg_names}
    elif isinstance(grad_req, (list, tuple)):
        if len(grad_req) != len(arg_names):
            raise BindError("%s: grad_req list has %d entries, the symbol has %d arguments (%s)"
                            % (where_text, len(grad_req), len(arg_names), ", ".join(arg_names)))
        reqs = dict(zip(arg_names, grad_req))
    elif isinstance(grad_req, dict):
        unknown = [k for k in grad_req if k not in arg_names]
        if unknown:
            raise BindError("%s: grad_req names unknown argument(s) %s; arguments are: %s"
                            % (where_text, ", ".join(unknown), ", ".join(arg_names)))
        reqs = {k: grad_req.get(k, "null") for k in arg_names}
    else:
        raise BindError("%s: grad_req must be a str, a list or a dict, got %r" % (where_text, grad_req))
    for k, r in reqs.items():
        if r not in GRAD_REQS:
            raise BindError("grad_req=%s is not a valid input in %s; only 'null', 'write', and "
                            "'add' are supported (argument %r)" % (r, where_text, k))
    return reqs


def check_unique(symbol):
    """Raise ``BindError`` when two inputs (variables) share a name, as MXNet's bind does."""
    counts = Counter(symbol.list_inputs())
    dup = sorted(n for n, c in counts.items() if c > 1)
    if dup:
        raise BindError("Duplicate names detected among the inputs: %s" % ", ".join(dup))


def bind_options(reqs, aux_update, ctx, layout_pass) -> ExecOptions:
    """The options ``bind``/``simple_bind`` start an executor with (the layout default is
    read once, here, so every executor reshaped from this one decides alike)."""
    return ExecOptions(grad_req=reqs, aux_update=aux_update, ctx=ctx or cpu(),
                       layout_pass=layout.enabled() if layout_pass is None else bool(layout_pass))


def simple_bind_parts(symbol, ctx=None, grad_req="write", type_dict=None, shared_arg_names=None,
                      shared_exec=None, aux_update="backward", layout_pass=None, shapes=None):
    """``(plan, arg_dict, grad_dict, aux_dict, options)`` for ``simple_bind``: shapes and
    types inferred from ``shapes``/``type_dict``, zero-filled arrays (or ``shared_exec``'s
    where they match)."""
    check_unique(symbol)
    state, tstate, nodes = infer_for_bind(symbol, dict(shapes or {}), dict(type_dict or {}),
                                          "simple_bind")
    arg_names = symbol.list_arguments()
    reqs = normalize_grad_req(grad_req, arg_names, "simple_bind")
    by_name = {n.name: n for n in nodes if n.is_variable}
    shared = {}
    if shared_exec is not None:
        names = shared_arg_names if shared_arg_names is not None else list(shared_exec.arg_dict)
        for k in names:
            if k in shared_exec.arg_dict:
                shared[k] = shared_exec
    arg_dict, grad_dict, aux_dict = {}, {}, {}
    for k in arg_names:
        n = by_name[k]
        shp, dt = tuple(state[(n, 0)]), tstate[(n, 0)]
        src = shared.get(k)
        if src is not None and src.np_arg_dict[k].shape == shp and src.np_arg_dict[k].dtype == dt:
            arg_dict[k] = src.np_arg_dict[k]
            grad_dict[k] = src.np_grad_dict.get(k) if reqs[k] != "null" else None
            continue
        arg_dict[k] = np.zeros(shp, dt)
        grad_dict[k] = None if reqs[k] == "null" else np.zeros(shp, dt)
    for k in symbol.list_auxiliary_states():
        n = by_name[k]
        aux_dict[k] = np.zeros(tuple(state[(n, 0)]), tstate[(n, 0)])
    options = bind_options(reqs, aux_update, ctx, layout_pass)
    plan = build_plan(symbol, state, tstate, options.plan_layout)
    return plan, arg_dict, grad_dict, aux_dict, options


def as_named(arrays, names, what, required=True) -> dict:
    """``arrays`` (a list in ``names`` order or a dict) as a dict of real numpy arrays."""
    if arrays is None:
        arrays = {}
    if isinstance(arrays, (list, tuple)):
        if len(arrays) != len(names):
            raise BindError("bind: %s has %d arrays, expected %d (%s)"
                            % (what, len(arrays), len(names), ", ".join(names)))
        arrays = dict(zip(names, arrays))
    if not isinstance(arrays, dict):
        raise BindError("bind: %s must be a list or a dict of numpy arrays" % what)
    # names the symbol lacks are skipped, as in MXNet: one dict serves several symbols
    # (variable sharing).  A misspelt name of args/aux_states still fails below as missing;
    # args_grad has no such check, so its strays get a warning.
    extra = [k for k in arrays if k not in names]
    if extra and not required:
        warnings.warn("bind: %s has name(s) %s that are not arguments of the symbol (ignored); "
                      "arguments: %s" % (what, ", ".join(map(str, extra)), ", ".join(names)), stacklevel=5)
    if required:
        for k in names:
            if k not in arrays:
                raise BindError("bind: key `%s` is missing in `%s`" % (k, what))
    out = {}
    for k in names:
        if k in arrays and arrays[k] is not None:
            if not isinstance(arrays[k], np.ndarray):
                raise BindError("bind: %s[%r] must be a numpy array (it is used in place), got %s"
                                % (what, k, type(arrays[k]).__name__))
            real_array(arrays[k], "bind: %s[%r]" % (what, k))    # refuses complex/object/str
            out[k] = plain(arrays[k])       # an NDArray's memory, as the plain array the runtime uses
    return out


def bind_parts(symbol, ctx=None, args=None, args_grad=None, grad_req="write", aux_states=None,
               aux_update="backward", layout_pass=None):
    """``(plan, arg_dict, grad_dict, aux_dict, options)`` for ``bind``: the user's arrays,
    checked against the shapes and types the graph needs."""
    check_unique(symbol)
    arg_names = symbol.list_arguments()
    aux_names = symbol.list_auxiliary_states()
    arg_dict = as_named(args, arg_names, "args")
    aux_dict = as_named(aux_states, aux_names, "aux_states")
    grads = as_named(args_grad, arg_names, "args_grad", required=False)
    reqs = normalize_grad_req(grad_req, arg_names, "bind")
    reqs = {k: (r if k in grads else "null") for k, r in reqs.items()}
    shapes = {k: v.shape for k, v in arg_dict.items()}
    shapes.update({k: v.shape for k, v in aux_dict.items()})
    try:
        state, tstate, nodes = infer_for_bind(symbol, shapes, {k: v.dtype for k, v in arg_dict.items()}, "bind")
    except SymnormError as exc:
        raise BindError(str(exc)) from None
    by_name = {n.name: n for n in nodes if n.is_variable}
    for what, d in (("args", arg_dict), ("args_grad", grads), ("aux_states", aux_dict)):
        for k, a in d.items():
            n = by_name[k]
            if a.shape != tuple(state[(n, 0)]):
                raise BindError("bind: %s[%r] has shape %s, the graph needs %s"
                                % (what, k, a.shape, tuple(state[(n, 0)])))
            if a.dtype != tstate[(n, 0)]:
                raise BindError("bind: %s[%r] has dtype %s, the graph needs %s"
                                % (what, k, a.dtype, tstate[(n, 0)]))
    grad_dict = {k: grads.get(k) if reqs[k] != "null" else None for k in arg_names}
    options = bind_options(reqs, aux_update, ctx, layout_pass)
    plan = build_plan(symbol, state, tstate, options.plan_layout)
    return plan, arg_dict, grad_dict, aux_dict, options


def _leading_view(arr, shape):
    """The first prod(shape) elements of ``arr`` as an array of ``shape`` sharing its
    memory, or a new zero-filled array when ``arr`` is too small or not contiguous."""
    size = int(np.prod(shape))
    if size <= arr.size and arr.flags.c_contiguous:
        return arr.reshape(-1)[:size].reshape(shape)
    return np.zeros(shape, arr.dtype)


def reshaped_arrays(ex, partial_shaping, allow_up_sizing, shapes: dict):
    """``(arg_dict, grad_dict, aux_dict)`` for ``ex.reshape(**shapes)``: ``ex``'s arrays
    where the shape is unchanged, views of their leading part where it shrank, new
    zero-filled ones where it grew (checked as MXNet does)."""
    state, nodes, _ = shape_entries(ex.symbol, (), dict(shapes))
    new_shapes = {n.name: state.get((n, 0)) for n in nodes if n.is_variable}
    arg_dict, grad_dict, aux_dict = {}, {}, {}
    for src, dst, grads in ((ex.np_arg_dict, arg_dict, True), (ex.np_aux_dict, aux_dict, False)):
        for name, arr in src.items():
            new = new_shapes.get(name)
            if new is None or None in new:
                raise BindError("reshape: cannot infer the new shape of %r; give it" % name)
            new = tuple(new)
            if new == arr.shape:
                dst[name] = arr
                if grads:
                    grad_dict[name] = ex.np_grad_dict.get(name)
                continue
            if name not in shapes and not partial_shaping:
                raise BindError("Shape of unspecified arg: %s changed from %s to %s. This can "
                                "cause the new executor to not share parameters with the old "
                                "one. Please check for error in network. If this is intended, "
                                "set partial_shaping=True to suppress this warning."
                                % (name, arr.shape, new))
            if int(np.prod(new)) > arr.size and not allow_up_sizing:
                raise BindError("New shape of arg: %s is larger than original (%s > %s). "
                                "First making a big executor and then down sizing it is more "
                                "efficient than the reverse. If you really want to up size, "
                                "set allow_up_sizing=True to enable allocation of new arrays."
                                % (name, new, arr.shape))
            # down-sizing shares memory, as MXNet's: the new array is the leading part of
            # the old one (writes through either are seen by both); up-sizing allocates
            dst[name] = _leading_view(arr, new)
            if grads:
                old = ex.np_grad_dict.get(name)
                grad_dict[name] = None if old is None else _leading_view(old, new)
    return arg_dict, grad_dict, aux_dict


__all__ = ["simple_bind_parts", "bind_parts", "reshaped_arrays", "normalize_grad_req",
           "check_unique", "as_named", "bind_options"]
