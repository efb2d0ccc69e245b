"""The step program: one named record per op node and direction, built once per plan.

A forward pass is a tuple of ``ForwardStep`` and a backward pass a tuple of
``BackwardStep``; the loops in ``symnorm.runtime.interpret`` walk them.  Everything a loop
decides per node (which slots to read and write, what to free, whether to keep the saved
state for backward, whether to write in place, which gradients are wanted) is decided
here, at bind, and can be read off a record in a debugger: ``print(ex.forward_program())``.

``step_failure`` is the one formatter for an exception raised inside an op's forward or
backward: the node's text line, its op and its input shapes (FX's "While executing").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..core.errors import OpError, SymnormError
from .buffers import workspace
from .kernels import KernelContext


@dataclass(frozen=True, slots=True)
class ForwardStep:
    """Run one op node's ``forward``.

    ``values[outs] = fn(*values[ins], train=...)`` (the kernel writing output 0 into
    ``values[ins[0]]`` when ``inplace``); then the state for backward is kept (``saves``)
    and ``frees`` are dropped."""
    index: int              # position in ``plan.op_nodes`` (and in the saved-state list)
    node: Any               # the graph node (``node.op`` is its op)
    fn: Callable            # the node's kernel forward, bound to its op and context
    kernel: Any             # that kernel (``symnorm.runtime.kernels``)
    ins: tuple              # input slots, aux states included
    outs: tuple             # output slots, hidden outputs included
    frees: tuple            # slots nobody reads after this step
    saves: bool             # keep the op's saved state: the node runs backward later
    proposes: bool          # the op has aux states: a training pass may propose new values
    inplace: bool           # write the output into the dying first input
    in_shapes: tuple        # the planned input shapes (for messages)
    out_shapes: tuple       # the planned output shapes (for the first-run check)

    @property
    def op(self):
        return self.node.op

    def __repr__(self):
        flags = [f for f, on in (("saves", self.saves), ("in place", self.inplace)) if on]
        return "<ForwardStep #%d %s [%s kernel]: slots %s -> %s%s%s>" % (
            self.index, self.node.describe(), self.kernel.name, _slots(self.ins), _slots(self.outs),
            "; frees " + _slots(self.frees) if self.frees else "",
            "; " + ", ".join(flags) if flags else "")


@dataclass(frozen=True, slots=True)
class BackwardStep:
    """Run one grad-path node's ``backward``.

    ``fn(saved[index], *grads[gout])`` returns one gradient per argument; those at the
    positions in ``gin`` are added to their slots' gradients.  Skipped when every incoming
    gradient is None, unless the node is a loss head (it makes its own)."""
    index: int              # position in ``plan.op_nodes``
    node: Any
    fn: Callable            # the node's kernel backward, bound to its op and context
    kernel: Any
    gout: tuple             # slots of the outputs whose gradients it receives
    loss: bool              # a loss head: runs even without incoming gradients
    gin: tuple              # (argument position, slot) pairs whose gradient is wanted
    n_args: int             # how many gradients it returns
    writes_out: bool        # may write gradients into given buffers (``backward(..., out=)``)
    in_shapes: tuple        # the planned input shapes (for messages and the first-run check)

    @property
    def op(self):
        return self.node.op

    def __repr__(self):
        return "<BackwardStep #%d %s: gradients of slots %s -> %s%s>" % (
            self.index, self.node.describe(), _slots(self.gout),
            _slots(tuple(s for _, s in self.gin)), "; loss head" if self.loss else "")


def _slots(slots) -> str:
    return "(" + ", ".join(str(s) for s in slots) + ")"


def _context(plan, i, comm, **fields) -> KernelContext:
    return KernelContext(comm=comm, layout=plan.layouts[i], workspace=workspace, **fields)


def forward_program(plan, on_path, comm, save: bool, reuse: bool) -> tuple:
    """The forward steps for one mode: ``save`` keeps the state of the nodes ``on_path``
    (their backward runs later); ``reuse`` lets planned nodes write in place (for a saving
    pass, only where the backward state survives it: ``Plan.inplace_train``)."""
    flags = plan.inplace_train if save else plan.inplace
    steps = []
    for i, n in enumerate(plan.op_nodes):
        inplace = reuse and flags[i]
        k = plan.kernels[i]
        fn = k.bind_forward(plan.ops[i], _context(plan, i, comm, inplace=inplace), plan.states[i])
        steps.append(ForwardStep(i, n, fn, k, plan.in_slots[i], plan.out_slots[i],
                                 plan.free_after[i], save and i in on_path, bool(n.op.aux), inplace,
                                 tuple(plan.slot_shape[s] for s in plan.in_slots[i]),
                                 tuple(plan.slot_shape[s] for s in plan.out_slots[i])))
    return tuple(steps)


def backward_program(plan, wants: set, on_path, comm) -> tuple:
    """The backward steps: the grad-path nodes in reverse order, each with the gradients
    it receives and the ones wanted from it (``symnorm.runtime.autodiff.grad_path``)."""
    steps = []
    for i in reversed(on_path):
        node = plan.op_nodes[i]
        op = plan.ops[i]
        outs = op.output_names()
        gout = tuple(s for j, s in enumerate(plan.out_slots[i]) if outs[j] not in op.no_grad_outputs)
        names = op.arguments()
        gin = tuple((k, plan.in_slots[i][k]) for k, n in enumerate(names)
                    if n not in op.no_grad_inputs and plan.in_slots[i][k] in wants)
        wanted = {k for k, _ in gin}
        kern = plan.kernels[i]
        ctx = _context(plan, i, comm, need=tuple(k in wanted for k in range(len(names))))
        fn = kern.bind_backward(op, ctx, plan.states[i])
        steps.append(BackwardStep(i, node, fn, kern, gout, op.head_grad == "ignore", gin, len(names),
                                  kern.grad_into_buffer,
                                  tuple(plan.slot_shape[s] for s in plan.in_slots[i])))
    return tuple(steps)


def step_failure(direction: str, step, exc: BaseException) -> BaseException:
    """The exception to raise for ``exc`` escaping ``step``'s op (``direction``: 'forward'
    or 'backward'), to be raised ``from exc``.

    An error the op anticipated (a ``SymnormError``, or numpy's ``FloatingPointError``
    under ``np.errstate(...='raise')``) keeps its class, so callers can still catch it;
    anything else becomes an ``OpError``.  Either way the message names the direction, the
    node, its text line and its input shapes."""
    node = step.node
    where = "\n  while executing %s\n  input shapes: %s" % (
        node.line(), ", ".join(str(s) for s in step.in_shapes) or "none")
    if isinstance(exc, (SymnormError, FloatingPointError)):
        try:
            return type(exc)("%s of %s: %s%s" % (direction, node.describe(), exc, where))
        except TypeError:                 # an error class with another constructor
            pass
    return OpError("%s of %s failed: %s: %s%s"
                   % (direction, node.describe(), type(exc).__name__, exc, where))


__all__ = ["ForwardStep", "BackwardStep", "forward_program", "backward_program", "step_failure"]
