"""Kernels: how an op runs, registered apart from what it means.

An op's declaration (``symnorm.ops``) holds its meaning and a plain reference
``forward``/``backward``.  A *kernel* is another way to run it, registered per op class
(subclasses included) with the capabilities the planner may use::

    @kernel(BatchNorm, writes_into_input=True, fresh_outputs=True, keeps_output=False,
            grad_into_buffer=True)
    def batchnorm(op, ctx, data, gamma, beta, moving_mean, moving_var, *, train): ...

    @batchnorm.backward
    def batchnorm_backward(op, ctx, saved, dy): ...

A kernel function takes the op (or what its ``prepare`` made of it), a ``KernelContext``
and the op's reference arguments; it returns what the reference returns.  The context
holds everything a kernel may use that the reference may not: whether output 0 may be
written into input 0 (``inplace``), which argument gradients are wanted (``need``), the
final gradient buffers it may write into (``grad_out``), the communicator (``comm``) and
the thread's scratch buffers (``workspace``).

The planner (``symnorm.runtime.plan``) chooses one kernel per node with ``choose``: the
highest ``priority`` among the kernels registered for the op's class (nearest class first)
whose ``layout`` and ``when`` fit, else the op's reference.  So a later optional backend
(numba, say) adds kernels for existing ops by registering them with a higher priority,
without touching a declaration.  Capabilities:

``layout``               "standard" (the op's own layout), "batch_last" (tensors stored
                         ``(C, *S, N)``: ``symnorm.runtime.kernels.batch_last``) or "any"
                         (elementwise: runs on either)
``writes_into_input``    may write output 0 into input 0 when ``ctx.inplace`` (the planner
                         sets it only for a dying input no one else can see)
``inplace_in_training``  ... also in training (the saved state refers to input 0 only as
                         the output); a bool or ``fn(op) -> bool``
``fresh_outputs``        outputs are always new arrays, never views of inputs or state
``keeps_output``         the saved state may alias output 0 (True, the safe default,
                         stops consumers from overwriting it in training); bool or fn(op)
``grad_into_buffer``     backward may write argument gradients into ``ctx.grad_out``
``gain``                 (batch_last) worth entering a batch-last region for
``layout_slots``         (batch_last) ``fn(op) -> (input names, output names)`` carrying
                         the layout; default ``(("data",), ("output",))``
``when``                 ``fn(op) -> bool``: the kernel applies to this op's params
``prepare``              ``fn(op, layout, in_shapes) -> state`` made once per node at plan
                         time (``in_shapes``: the stored input shapes) and passed in place
                         of the op
``specialize``           ``fn(state, ctx) -> forward(*inputs, train)``: the forward made
                         once per step with the context's decisions taken (a tiny op's
                         kernel then costs one plain call, not a partial and a branch)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any, Callable

LAYOUTS = ("standard", "batch_last", "any")


@dataclass(frozen=True)
class KernelContext:
    """What one node's kernel may use besides its inputs (one per step, made at plan time)."""
    inplace: bool = False          # write output 0 into input 0
    need: tuple | None = None      # per argument: is its gradient wanted?
    grad_out: tuple | None = None  # per argument: its final gradient buffer, or None
    comm: Any = None               # the communicator of a data-parallel run (or None)
    layout: str = "standard"       # the layout the node's tensors are stored in
    workspace: Callable = None     # workspace(shape, dtype, tag) -> a reused scratch array


def _flag(value, op) -> bool:
    return bool(value(op)) if callable(value) else bool(value)


@dataclass(frozen=True, eq=False)
class Kernel:
    """One registered way to run an op class (see the module docstring)."""
    op_type: type
    name: str
    forward_fn: Callable | None = None      # None: the op's reference forward
    backward_fn: Callable | None = None     # None: the op's reference backward
    layout: str = "standard"
    writes_into_input: bool = False
    inplace_in_training: Any = False
    fresh_outputs: bool = False
    keeps_output: Any = True
    grad_into_buffer: bool = False
    gain: bool = False
    layout_slots: Callable | None = None
    when: Callable | None = None
    prepare: Callable | None = None
    specialize: Callable | None = None
    priority: int = 0
    reference: bool = False
    _order: int = field(default=0, compare=False)

    # ------------------------------------------------------------------ capabilities
    def fits(self, op, layout: str) -> bool:
        return (self.layout == layout or self.layout == "any") and \
            (self.when is None or bool(self.when(op)))

    def keeps_output_of(self, op) -> bool:
        return _flag(self.keeps_output, op)

    def inplace_in_training_of(self, op) -> bool:
        return self.writes_into_input and _flag(self.inplace_in_training, op)

    def slots(self, op) -> tuple:
        """(input names, output names) that carry the batch-last layout."""
        if self.layout_slots is not None:
            return self.layout_slots(op)
        return ("data",), ("output",)

    # ------------------------------------------------------------------ running
    def state(self, op, layout: str, in_shapes: tuple):
        """What the kernel functions receive in place of ``op`` (``prepare``'s result)."""
        return op if self.prepare is None else self.prepare(op, layout, in_shapes)

    def bind_forward(self, op, ctx: KernelContext, state=None) -> Callable:
        """``fn(*inputs, train=...)`` running this kernel's forward for ``op``."""
        if self.forward_fn is None:
            return op.forward
        if self.specialize is not None:
            return self.specialize(op if state is None else state, ctx)
        return functools.partial(self.forward_fn, op if state is None else state, ctx)

    def bind_backward(self, op, ctx: KernelContext, state=None) -> Callable:
        """``fn(saved, *out_grads)`` running this kernel's backward for ``op``; with
        ``grad_into_buffer`` it also takes ``out=`` (the final gradient buffers, which the
        executor offers only to the last step) and passes them on as ``ctx.grad_out``."""
        if self.backward_fn is None:
            return op.backward
        fn, state = self.backward_fn, op if state is None else state
        if not self.grad_into_buffer:
            return functools.partial(fn, state, ctx)

        last = [None, ctx]              # the buffers of the last call and their context

        def run(saved, *out_grads, out=None):
            if out is None:
                return fn(state, ctx, saved, *out_grads)
            # an executor offers the same buffers every step: one context for them (the
            # context holds the buffers, so their ids cannot be reused while it lives)
            ids = tuple(map(id, out))
            if ids != last[0]:
                last[:] = [ids, replace(ctx, grad_out=out)]
            return fn(state, last[1], saved, *out_grads)
        return run

    def backward(self, fn: Callable) -> Callable:
        """Decorator: set this kernel's backward (``@my_kernel.backward``)."""
        object.__setattr__(self, "backward_fn", fn)
        return fn

    def __repr__(self):
        return "<Kernel %s for %s (%s)>" % (self.name, self.op_type.__name__, self.layout)


KERNELS: dict[type, list[Kernel]] = {}
"""Op class -> the kernels registered for it (in registration order)."""

_REFERENCE: dict[type, Kernel] = {}
_COUNT = [0]


def kernel(op_type: type, *, name: str | None = None, backward: Callable | None = None,
           **capabilities) -> Callable:
    """Decorator registering a forward function as a kernel of ``op_type`` (and its
    subclasses); returns the ``Kernel``.  ``kernel(op_type, ...)(None)`` registers the
    op's reference functions with extra capabilities (e.g. ``layout="any"``)."""
    layout = capabilities.get("layout", "standard")
    if layout not in LAYOUTS:
        raise TypeError("kernel layout must be one of %s, got %r" % (LAYOUTS, layout))
    unknown = set(capabilities) - {f for f in Kernel.__dataclass_fields__} - {"_order"}
    if unknown:
        raise TypeError("unknown kernel capabilities: %s" % ", ".join(sorted(unknown)))

    def register(fn):
        _COUNT[0] += 1
        k = Kernel(op_type, name or (fn.__name__ if fn is not None else "reference+"),
                   fn, backward, _order=_COUNT[0], **capabilities)
        KERNELS.setdefault(op_type, []).append(k)
        return k
    return register


def reference(op) -> Kernel:
    """The kernel running ``op``'s own reference forward/backward, with no capabilities."""
    cls = type(op)
    k = _REFERENCE.get(cls)
    if k is None:
        k = _REFERENCE[cls] = Kernel(cls, "reference", reference=True)
    return k


def candidates(op, layout: str = "standard") -> list:
    """The kernels that can run ``op`` in ``layout``, preferred first."""
    found = []
    for depth, cls in enumerate(type(op).__mro__):
        for k in KERNELS.get(cls, ()):
            if k.fits(op, layout):
                found.append((-k.priority, depth, -k._order, k))
    return [k for *_, k in sorted(found, key=lambda t: t[:3])]


def choose(op, layout: str = "standard", use_reference: bool = False) -> Kernel | None:
    """The kernel the planner runs ``op`` with: the preferred candidate, else (standard
    layout) the reference; None when nothing runs ``op`` in a non-standard ``layout``."""
    if use_reference:
        return reference(op) if layout == "standard" else None
    found = candidates(op, layout)
    if found:
        return found[0]
    return reference(op) if layout == "standard" else None


__all__ = ["Kernel", "KernelContext", "KERNELS", "kernel", "choose", "candidates", "reference"]
