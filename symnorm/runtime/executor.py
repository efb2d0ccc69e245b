"""Binding and executing a graph: ``simple_bind``/``bind`` build an ``Executor`` around a
``Plan`` made once, at bind time.

The aux write-back contract (docs/facts.md §2)
-----------------------------------------------
* Ops are pure.  ``forward(is_train=True)`` lets every op that keeps statistics (BatchNorm
  without ``use_global_stats``) *propose* new aux values; the executor stages them.
* The staged values are committed into ``aux_dict`` (in place: arrays you hold see the
  change) when that step's ``backward()`` returns, for every node that ran in training mode,
  whatever the ``grad_req`` (a BatchNorm no gradient flows through still updates), exactly
  once per training forward: a second ``backward()`` commits nothing; a training forward
  followed by another forward without backward commits nothing.
* ``aux_update='forward'`` at bind commits at the end of ``forward(is_train=True)`` instead
  (re-estimating statistics with forward passes only).
* ``forward(is_train=False)`` and ``use_global_stats=True`` propose nothing.
* A node whose proposed values are not all finite (a NaN or inf batch) commits none of them
  that step: its aux states keep their values and the "symnorm" logger warns, naming the node.
  One bad batch would otherwise poison the moving statistics for good (MXNet and PyTorch
  write them).  Per node, not per array: a moving mean and variance stay from the same batches.
  With ``nan_check`` such a proposal raises ``FloatingPointError`` in the forward instead.
* A step that fails (an exception in an op, a NaN caught by ``nan_check``) leaves
  arguments, gradients and aux states exactly as they were.
"""
from __future__ import annotations

import logging
import math
import os
import warnings

import numpy as np

from . import allocator, autodiff, binding, codegen, interpret, parallel, reports
from ..core.cse import eliminate_common_expr
from ..core.dtype import REAL_KINDS, real_array
from ..core.errors import BindError
from .. import random as _random
from ..context import Context, cpu  # noqa: F401  (executor.cpu is public API too)
from .exec_options import AUX_UPDATES, GRAD_REQS, ExecOptions  # noqa: F401
from .plan import Plan, build_plan, inference_liveness, plan_for_arrays  # noqa: F401
from .steps import backward_program, forward_program
from .views import PublicArrays

_LOG = logging.getLogger("symnorm")


class Executor(PublicArrays):
    """A bound graph: arrays for every argument, gradient, aux state and output.

    Create with ``Symbol.simple_bind`` or ``Symbol.bind``.  Attributes (MXNet's):
    ``arg_dict``, ``grad_dict`` (None where grad_req is 'null'), ``aux_dict``,
    ``output_dict``, ``arg_arrays``, ``grad_arrays``, ``aux_arrays``, ``outputs``: NDArray
    views of the plain arrays the runtime computes on (``np_arg_dict``, ... see ``views``).
    Everything else it was bound with is one ``ExecOptions`` record, ``options``, which
    ``reshape`` passes on whole; ``nan_check``, ``inplace`` and ``collective`` read (and the
    first two set) its fields.

    The work is done by the runtime's other modules: ``plan`` (what to compute, decided at
    bind), ``steps`` (the named step records of each direction), ``interpret`` (the one
    loop per direction, and its instrumentation: first-run checks, ``nan_check``, the
    monitor) and ``autodiff`` (which gradients are wanted).  ``forward_steps()`` and
    ``backward_steps()`` show the step records.
    """

    def __init__(self, symbol, plan: Plan, arg_dict: dict, grad_dict: dict, aux_dict: dict,
                 options: ExecOptions):
        allocator.apply_opt_in()    # process-wide malloc tuning only where asked for
        self._symbol = symbol
        self.arg_dict, self.grad_dict, self.aux_dict = arg_dict, grad_dict, aux_dict
        self._options = options
        self._last_train = None     # mode of the last forward (None before any)
        self._output_parent = None  # the first executor of a chain of reshapes (shows our outputs)
        # read at bind, as MXNet's executor does (get_optimized_symbol)
        self._eliminate_common_expr = os.environ.get("MXNET_ELIMINATE_COMMON_EXPR", "1").strip() \
            not in ("0", "false", "False")
        self._use_plan(plan)
        self.outputs = [np.zeros(plan.slot_shape[s], plan.slot_dtype[s]) for s in plan.head_slots]

    def _use_plan(self, plan: Plan):
        """Adopt ``plan``: derive what the loops need from it (any pending step is dropped)."""
        self._plan = plan
        # parallel mode (symnorm.parallel) for plans with large arrays
        self._split = parallel.worth_splitting(max((math.prod(s) for s in plan.slot_shape), default=0))
        self._wants, self._on_path = autodiff.grad_path(plan, self._options.grad_req)
        self._on_path_set = set(self._on_path)
        # ops that draw random numbers (not merely keeping aux state): an inference forward
        # records the generator's state for a backward() that re-runs it (reading the
        # state costs microseconds: only graphs with such ops pay it)
        self._draws = any(not n.op.deterministic() and not n.op.aux for n in plan.op_nodes)
        self._programs = {}         # (save, reuse) or "bwd" -> step program, built when first run
        self._compiled = {}         # the same keys -> the program as straight-line code (codegen)
        self._checked = set()       # modes whose outputs/gradients were shape-checked once
        self._saved = None          # saved state of the last forward, per op node index
        self._infer_rng = None      # random state before the last inference forward
        self._staged = None         # proposed aux values of the last training forward
        # where each op node's proposed aux values go (resolved once, not at every commit)
        self._aux_targets = {}
        for i, n in enumerate(plan.op_nodes):
            if n.op.aux:
                names = n.op.input_names()
                self._aux_targets[i] = tuple(self.np_aux_dict[n.inputs[names.index(a)].node.name]
                                             for a in n.op.aux)
        # zero vectors for the commit's finiteness test (interpret.all_finite_each)
        self._aux_zeros = {i: tuple(np.zeros(t.shape, t.dtype) if t.ndim == 1 and t.dtype.char in "fd"
                                    else None for t in ts)
                           for i, ts in self._aux_targets.items()}
        # grad_req as a plain dict: the options keep a read-only view, slower to look up
        self._grad_req = dict(self._options.grad_req)
        self._buffers_of = None     # (np_grad_dict, _grad_req, plan, buffers)
        # heads made by kernels whose outputs are always new arrays cannot alias a bound array
        kernel_of = dict(zip(plan.op_nodes, plan.kernels))
        self._head_fresh = [n in kernel_of and kernel_of[n].fresh_outputs for n in plan.head_nodes]

    def _forward_program(self, save: bool, reuse: bool) -> tuple:
        program = self._programs.get((save, reuse))
        if program is None:
            program = self._programs[(save, reuse)] = forward_program(
                self._plan, self._on_path_set, self._options.collective, save, reuse)
        return program

    def _backward_program(self) -> tuple:
        program = self._programs.get("bwd")
        if program is None:
            program = self._programs["bwd"] = backward_program(
                self._plan, self._wants, self._on_path, self._options.collective)
        return program

    def forward_steps(self, is_train: bool = False) -> tuple:
        """The ``ForwardStep`` records a ``forward(is_train)`` runs, in order."""
        return self._forward_program(bool(is_train), self._reuse())

    def backward_steps(self) -> tuple:
        """The ``BackwardStep`` records ``backward()`` runs, in order."""
        return self._backward_program()

    def set_collective(self, collective):
        """The communicator for collective ops (SyncBatchNorm) during data-parallel runs."""
        self._set_options(self._options.replace(collective=collective))

    # ------------------------------------------------------------------ options
    @property
    def options(self) -> ExecOptions:
        """Everything this executor was bound with besides its arrays (``ExecOptions``)."""
        return self._options

    def _set_options(self, options: ExecOptions):
        """Adopt ``options``, redoing only what the changed fields feed: the step programs
        bind the collective; a monitor needs a plan of the symbol as written."""
        old, self._options = self._options, options
        self._grad_req = dict(options.grad_req)
        if options.monitor is not None and self._plan.symbol is not self._symbol:
            self._use_plan(plan_for_arrays(self._symbol, self.np_arg_dict, self.np_aux_dict, False))
        elif options.collective is not old.collective:
            self._programs, self._compiled = {}, {}

    @property
    def collective(self):
        """The communicator given by ``set_collective`` (None: collective ops act locally)."""
        return self._options.collective

    @property
    def nan_check(self) -> bool:
        """Raise ``FloatingPointError`` at the first non-finite output or gradient."""
        return self._options.nan_check

    @nan_check.setter
    def nan_check(self, value):
        self._set_options(self._options.replace(nan_check=bool(value)))

    @property
    def inplace(self) -> bool:
        """Ops may overwrite dying inputs (``Plan.inplace``, ``Plan.inplace_train``)."""
        return self._options.inplace

    @inplace.setter
    def inplace(self, value):
        self._set_options(self._options.replace(inplace=bool(value)))

    def _reuse(self) -> bool:
        # a monitor sees every input intact
        return self._options.inplace and self._options.monitor is None

    # ------------------------------------------------------------------ accessors
    @property
    def arg_arrays(self):
        return list(self.arg_dict.values())

    @property
    def grad_arrays(self):
        return list(self.grad_dict.values())

    @property
    def aux_arrays(self):
        return list(self.aux_dict.values())

    @property
    def output_dict(self):
        return dict(zip(self._plan.output_names, self.outputs))

    @property
    def symbol(self):
        return self._symbol

    @property
    def plan(self) -> Plan:
        return self._plan

    def __repr__(self):
        mode = {None: "no forward yet", True: "last forward: training",
                False: "last forward: inference"}[self._last_train]
        return "<Executor %s (%d args, %d aux; %s)>" % (
            ", ".join(self._plan.output_names), len(self.np_arg_dict), len(self.np_aux_dict), mode)

    # ------------------------------------------------------------------ forward
    @parallel.in_region
    def forward(self, is_train: bool = False, **kwargs):
        """Run the graph; return ``outputs``.

        ``is_train=True`` uses batch statistics and stages the aux updates (committed when
        the step's ``backward()`` returns; see the module docstring).  The default
        ``is_train=False`` normalizes with the moving statistics.  Keyword arrays are copied
        into the arguments of those names (shape-checked).  On any failure nothing is changed.
        """
        plan = self._plan
        feeds = {}
        for k, v in kwargs.items():
            if k not in self.np_arg_dict:
                raise TypeError("Unknown argument %s; arguments are: %s"
                                % (k, ", ".join(self.np_arg_dict)))
            # a dtype-kind check, not a data scan: numpy would silently drop an imaginary part
            arr = v if type(v) is np.ndarray and v.dtype.kind in REAL_KINDS else \
                real_array(v, "forward: argument %r" % k)
            target = self.np_arg_dict[k]
            if arr.shape != target.shape:
                raise BindError("Shape not match! Argument %s, need: %s, received: %s"
                                % (k, target.shape, arr.shape))
            feeds[k] = arr.astype(target.dtype, copy=False)
        # an inference forward keeps no state; a backward() after it re-runs it, and must
        # draw the same random numbers (Dropout mode='always') as this run did
        rng_state = _random.generator().bit_generator.state if self._draws and not is_train \
            else None
        values = self._run(bool(is_train), feeds, save=bool(is_train))
        self._infer_rng = rng_state
        # success: commit the step's effects
        for k, arr in feeds.items():
            np.copyto(self.np_arg_dict[k], arr)
        for name, value in plan.pinned:
            self.np_arg_dict[name][...] = value
        self.np_outputs = [values[s] if fresh else self._own(values[s])
                        for s, fresh in zip(plan.head_slots, self._head_fresh)]
        if self._output_parent is not None:
            self._output_parent._show_outputs(self.np_outputs)
        self._last_train = bool(is_train)
        if is_train and self._options.aux_update == "forward":
            self._commit_aux()
        return self.outputs

    def _own(self, arr):
        # an output that aliases a bound array (identity, Reshape of an argument) is copied,
        # so that later writes to arg_dict do not change it
        for bound in self.np_arg_dict.values():
            if np.may_share_memory(arr, bound):
                return arr.copy()
        return arr

    def _run(self, train: bool, feeds: dict, save: bool):
        """Run the forward step program over fresh slot values (the bound arrays, ``feeds``
        in place of their arguments).  Returns the values; sets ``_saved``/``_staged``."""
        plan, options = self._plan, self._options
        values = [None] * len(plan.slot_shape)
        for name, s in plan.arg_slot.items():
            values[s] = feeds.get(name, self.np_arg_dict[name])
        for name, s in plan.aux_slot.items():
            values[s] = self.np_aux_dict[name]
        # instrumentation: the first pass of a mode checks what every op made (shapes do
        # not change after that); nan_check and a monitor watch every pass
        first = ("fwd", train) not in self._checked
        watch = None
        if first or options.nan_check or options.monitor is not None:
            watch = interpret.Watch(check=first, nan_check=options.nan_check,
                                    monitor=options.monitor, monitor_all=options.monitor_all)
        key = (save, self._reuse())
        if watch is None and codegen.ENABLED:
            # steady state: the same program as straight-line code (symnorm.runtime.codegen)
            run = self._compiled.get(key)
            if run is None:
                bound = set(plan.arg_slot.values()) | set(plan.aux_slot.values())
                run = self._compiled[key] = codegen.compile_forward(
                    self._forward_program(*key), bound, plan.head_slots)
            saved, staged = [None] * len(plan.op_nodes), {}
            run(values, saved, staged, train)
        else:
            saved, staged = interpret.run_forward(self._forward_program(*key), values,
                                                  len(plan.op_nodes), train, watch)
        self._checked.add(("fwd", train))
        self._saved = saved if save else None
        self._staged = staged if train else None
        return values

    # ------------------------------------------------------------------ backward
    @parallel.in_region
    def backward(self, out_grads=None, is_train: bool = True):
        """Compute gradients into ``grad_dict`` (per ``grad_req``) and commit staged aux.

        ``out_grads``: one array per output (a list), one array, or a dict by output name.
        Loss heads (SoftmaxOutput, MakeLoss) need none and ignore any; blocked outputs
        (BatchNorm's mean/var) ignore theirs.  After ``forward(is_train=False)`` this
        differentiates that inference computation (moving statistics are constants); pass
        ``is_train=False`` to say that is what you want and silence the warning.
        """
        plan, options = self._plan, self._options
        if self._last_train is None:
            raise BindError("backward() called before any forward()")
        heads = autodiff.head_gradients(plan, out_grads, self._wants)
        if not self._last_train:
            if is_train:
                warnings.warn("backward() after forward(is_train=False): differentiating the "
                              "inference computation (moving statistics as constants); call "
                              "backward(..., is_train=False) to silence this", stacklevel=2)
            if self._saved is None and self._infer_rng is None:
                self._run(False, {}, save=True)
            elif self._saved is None:
                bits = _random.generator().bit_generator
                now, bits.state = bits.state, self._infer_rng
                try:
                    self._run(False, {}, save=True)
                finally:
                    bits.state = now
        elif self._saved is None:
            raise BindError("backward(): the training forward kept no state")
        # with nan_check no gradient is written before all are known to be finite
        buffers = None if options.nan_check else self._write_buffers()
        first = ("bwd", self._last_train) not in self._checked
        watch = interpret.Watch(check=first, nan_check=options.nan_check, monitor=options.monitor) \
            if first or options.nan_check or options.monitor is not None else None
        if watch is None and codegen.ENABLED:
            run = self._compiled.get("bwd")
            if run is None:
                run = self._compiled["bwd"] = codegen.compile_backward(
                    self._backward_program(), plan.arg_slot.values(), plan.head_slots)
            grads = run(self._saved, heads, buffers)
        else:
            grads = interpret.run_backward(self._backward_program(), plan.arg_slot.values(),
                                           self._saved, heads, buffers, watch)
        if watch is not None:
            watch.gradients(plan.arg_slot, grads)
        self._checked.add(("bwd", self._last_train))
        # success: write gradients, then commit aux (exactly once per training forward)
        for name, slot in plan.arg_slot.items():
            req = self._grad_req.get(name, "null")
            buf = self.np_grad_dict.get(name)
            if req == "null" or buf is None:
                continue
            g = grads.get(slot)
            if req == "write":
                if g is None:
                    buf[...] = 0
                elif g is not buf and not _is_view_of(g, buf):   # written in place already
                    np.copyto(buf, g)
            elif g is not None:
                buf += g
        if self._last_train and options.aux_update == "backward":
            self._commit_aux()

    def _write_buffers(self) -> dict:
        """{argument slot: its gradient buffer} for grad_req 'write', kept while the plan,
        the gradient arrays and grad_req stay (one dict, not one per step)."""
        cached, plan = self._buffers_of, self._plan
        if cached is None or cached[0] is not self.np_grad_dict or cached[1] is not self._grad_req \
                or cached[2] is not plan:
            slot = plan.arg_slot
            cached = self._buffers_of = (self.np_grad_dict, self._grad_req, plan, {
                slot[k]: b for k, b in self.np_grad_dict.items()
                if b is not None and self._grad_req.get(k) == "write"})
        return cached[3]

    def _commit_aux(self):
        """The one place aux states change: staged values copied into ``aux_dict`` arrays,
        except a node's whose proposal is not finite (module docstring).  The check reads
        the proposed arrays only (C-sized for the norms), never the batch."""
        staged, self._staged = self._staged, None
        if not staged:
            return
        finite = interpret.all_finite_each
        for i, new in staged.items():
            if not finite(new, self._aux_zeros[i]):
                node = self._plan.op_nodes[i]
                bad = [(a, v) for a, v in zip(node.op.aux, new) if not interpret.all_finite(v)]
                kept = [node.inputs[node.op.input_names().index(a)].node.name for a in node.op.aux]
                _LOG.warning("%s: the new %s of this training step %s not finite (NaN or inf in "
                             "the batch, or statistics beyond %s's range); its aux states %s were "
                             "left unchanged", node.describe(), " and ".join(a for a, _ in bad),
                             "is" if len(bad) == 1 else "are", np.asarray(bad[0][1]).dtype,
                             ", ".join(kept))
                continue
            for dst, value in zip(self._aux_targets[i], new):
                np.copyto(dst, value)

    # ------------------------------------------------------------------ utilities
    def set_monitor_callback(self, callback, monitor_all: bool = False):
        """Call ``callback(name, array)`` for every op output during forward (and every
        input too with ``monitor_all``) and every gradient a backward step returns
        (``<node>_backward_output<k>``), as MXNet's ``Monitor`` does.  The executor then
        runs the graph exactly as written (no batch-last regions), so every array the
        callback sees has the shape the symbol gives it."""
        self._set_options(self._options.replace(monitor=callback, monitor_all=bool(monitor_all)))

    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        """Copy values into the bound arguments and aux states (all checked before any copy)."""
        todo = []
        for params, target, kind in ((arg_params, self.np_arg_dict, "arguments"),
                                     (aux_params or {}, self.np_aux_dict, "auxiliary states")):
            for k, v in params.items():
                if k not in target:
                    if allow_extra_params:
                        continue
                    raise ValueError('Find name "%s" that is not in the %s' % (k, kind))
                v = real_array(v, "copy_params_from: %s %r" % (kind, k))
                if v.shape != target[k].shape:
                    raise BindError("copy_params_from: %r has shape %s, the executor needs %s"
                                    % (k, v.shape, target[k].shape))
                todo.append((target[k], v))
        for dst, src in todo:
            np.copyto(dst, src.astype(dst.dtype, copy=False))

    def reshape(self, partial_shaping=False, allow_up_sizing=False, **kwargs):
        """A new executor for new input shapes, sharing memory with this one as MXNet's
        does: arrays whose shape is unchanged are the same arrays, arrays that shrank are
        views of the leading part of these (grown ones are new: ``allow_up_sizing``), and
        after each of its forwards this executor's ``outputs`` show its results in their
        leading part where they fit (new arrays: never state a pending backward reads).
        It runs with the same ``options`` (the record is passed on whole: communicator,
        monitor, ``nan_check``, in-place policy, grad_req, ...)."""
        arg_dict, grad_dict, aux_dict = binding.reshaped_arrays(self, partial_shaping,
                                                                allow_up_sizing, kwargs)
        plan = plan_for_arrays(self._symbol, arg_dict, aux_dict, self._options.plan_layout)
        new = Executor(self._symbol, plan, arg_dict, grad_dict, aux_dict, self._options)
        # the first executor of a chain of reshapes shows the outputs: a Module reshaping
        # at every batch must not keep every executor it ever made alive
        new._output_parent = self._output_parent or self
        return new

    def get_optimized_symbol(self):
        """The symbol after MXNet's bind-time graph simplification: common subexpressions
        merged (``core.cse``) unless ``MXNET_ELIMINATE_COMMON_EXPR=0`` was set at bind.  For
        inspection: the results are the same either way, and symnorm runs the graph as
        bound (its planner already shares buffers)."""
        if not self._eliminate_common_expr:
            return self._symbol.__copy__()
        return eliminate_common_expr(self._symbol)

    def memory_report(self) -> str:
        """The planned value buffers of an inference forward: peak live activations, bytes."""
        return reports.memory_report(self._plan, self.np_grad_dict)

    def peak_live_activations(self) -> int:
        """Peak number of activation buffers alive at once during an inference forward."""
        return inference_liveness(self._plan)[0]

    def debug_str(self) -> str:
        """The plan: one line per op node with its output shapes, then the memory report."""
        return reports.debug_str(self._plan, self._on_path_set, self.np_grad_dict)


def _is_view_of(a, buf):
    return a.base is buf or (a.base is not None and a.base is buf.base and buf.base is not None
                             and a.__array_interface__["data"] == buf.__array_interface__["data"])


def simple_bind(symbol, ctx=None, grad_req="write", type_dict=None, stype_dict=None,
                group2ctx=None, shared_arg_names=None, shared_exec=None, shared_buffer=None,
                aux_update="backward", layout_pass=None, **shapes):
    """Infer shapes and types from ``shapes``, allocate zero-filled arrays, return an Executor.

    >>> import symnorm as sn
    >>> bn = sn.sym.BatchNorm(sn.sym.Variable('data'), name='bn')
    >>> ex = bn.simple_bind(sn.cpu(), data=(4, 3))
    >>> sorted(ex.aux_dict)
    ['bn_moving_mean', 'bn_moving_var']
    """
    plan, arg_dict, grad_dict, aux_dict, options = binding.simple_bind_parts(
        symbol, ctx, grad_req, type_dict, shared_arg_names, shared_exec, aux_update,
        layout_pass, shapes)
    return Executor(symbol, plan, arg_dict, grad_dict, aux_dict, options)


def bind(symbol, ctx=None, args=None, args_grad=None, grad_req="write", aux_states=None,
         group2ctx=None, shared_exec=None, aux_update="backward", layout_pass=None):
    """Bind user-owned arrays: they are used in place, so the caller sees every update.

    ``args``/``args_grad``/``aux_states`` are lists in ``list_*`` order or dicts.  An
    argument left out of ``args_grad`` gets no gradient (its ``grad_dict`` entry is None).
    """
    plan, arg_dict, grad_dict, aux_dict, options = binding.bind_parts(
        symbol, ctx, args, args_grad, grad_req, aux_states, aux_update, layout_pass)
    return Executor(symbol, plan, arg_dict, grad_dict, aux_dict, options)


__all__ = ["Executor", "Plan", "Context", "cpu", "bind", "simple_bind"]
