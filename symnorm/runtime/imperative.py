"""Running one op on arrays, outside any graph: what ``mx.nd.<Op>(...)`` calls.

``invoke`` is the only place ops run imperatively, and it runs the kernel the planner would
choose for the op in a bound graph (``kernels.choose``), so ``mx.nd.<Op>`` and an executor
compute with the same code.  Its checks are those ``bind`` makes: every input
slot filled with a real (bool/int/float) numpy array whose shape and dtype the op's own rules
accept; each failure names the op and the input.
"""
from __future__ import annotations

import numpy as np

from ..core.dtype import REAL_KINDS
from ..core.errors import DTypeError, OpError, ShapeError, SymnormError, fmt_shape, where
from .buffers import workspace
from .kernels import KernelContext, choose
from .plan import reference_kernels


def invoke(op, arrays, *, train: bool = False) -> tuple:
    """Run ``op`` (an ``Op`` instance, from its class's ``create(params)``) on ``arrays``,
    one plain ``np.ndarray`` per input slot (arguments then aux states, ``op.input_names()``
    order).  Returns the visible outputs (``op.num_visible_outputs()``) as new arrays the
    caller owns.  Aux states are read, never updated; ``train=False`` runs the inference
    forward (moving statistics, no dropout).

    >>> import numpy as np
    >>> from symnorm.registry import REGISTRY
    >>> op = REGISTRY['Activation'].create({'act_type': 'relu'})
    >>> invoke(op, [np.array([-1.0, 2.0])])
    (array([0., 2.]),)
    """
    names = op.input_names()
    name = where(op.op_name, None)
    if len(arrays) != len(names):
        raise OpError("%s takes %d inputs (%s), got %d"
                      % (name, len(names), ", ".join(names), len(arrays)))
    for slot, a in zip(names, arrays):
        if type(a) is not np.ndarray:
            raise DTypeError("%s: input %r must be a numpy array, got %s"
                             % (name, slot, type(a).__name__))
        if a.dtype.kind not in REAL_KINDS:
            raise DTypeError("%s: input %r has dtype %s; symnorm computes with bool, int and "
                             "float arrays only" % (name, slot, a.dtype))
    shapes = tuple(a.shape for a in arrays)
    try:
        inferred = op.infer_shape(*shapes)
    except ShapeError as exc:
        raise ShapeError("Error in operator %s: %s (input shapes: %s)"
                         % (name, exc, _fmt(names, shapes))) from None
    if inferred is None:
        raise ShapeError("Error in operator %s: cannot infer the output shapes from the input "
                         "shapes %s" % (name, _fmt(names, shapes)))
    for slot, given, want in zip(names, shapes, inferred[0]):
        if want is not None and tuple(want) != given:
            raise ShapeError("Error in operator %s: input %r has shape %s, the op needs %s"
                             % (name, slot, fmt_shape(given), fmt_shape(tuple(want))))
    try:
        types = op.infer_type(*(a.dtype for a in arrays))
    except SymnormError as exc:
        raise DTypeError("Error in operator %s: %s" % (name, exc)) from None
    if types is not None:
        for slot, a, want in zip(names, arrays, types[0]):
            if want is not None and np.dtype(want) != a.dtype:
                raise DTypeError("Error in operator %s: input %r has dtype %s, the op needs %s "
                                 "(cast it with .astype)" % (name, slot, a.dtype, np.dtype(want)))
    kernel = choose(op, use_reference=reference_kernels())
    run = kernel.bind_forward(op, KernelContext(workspace=workspace),
                              kernel.state(op, "standard", shapes))
    try:
        result = run(*arrays, train=train)
    except (SymnormError, FloatingPointError) as exc:
        # anticipated by the op: the same class, so callers can still catch it
        try:
            err = type(exc)("forward of %s: %s (input shapes: %s)" % (name, exc, _fmt(names, shapes)))
        except TypeError:             # an error class with another constructor
            raise exc from None
        raise err from exc
    except Exception as exc:
        raise OpError("forward of %s failed: %s: %s (input shapes: %s)"
                      % (name, type(exc).__name__, exc, _fmt(names, shapes))) from exc
    outs = tuple(np.asarray(o) for o in result[0][:op.num_visible_outputs()])
    # an output may be a view of an input (identity, Reshape) or a read-only broadcast;
    # the caller gets arrays of its own, as MXNet's ops make
    return tuple(o.copy() if not o.flags.writeable or
                 any(np.may_share_memory(o, a) for a in arrays) else o for o in outs)


def _fmt(names, shapes) -> str:
    return ", ".join("%s=%s" % (n, fmt_shape(s)) for n, s in zip(names, shapes))


__all__ = ["invoke"]
