"""Binding and executing a graph: ``simple_bind``/``bind`` build an ``Executor`` around a
``Plan`` made once, at bind time.

The aux write-back contract (SPEC §9, STYLE §3.4)
-------------------------------------------------
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

import functools
import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np

from . import allocator, autodiff, layout, parallel
from ..core.dtype import REAL_KINDS, real_array
from ..core.errors import BindError, OpError, SymnormError
from ..context import Context, cpu  # noqa: F401  (executor.cpu is public API too)
from .exec_options import AUX_UPDATES, GRAD_REQS, ExecOptions  # noqa: F401
from ..core.ir import dfs_postorder
from ..core.shape import shape_entries, type_entries

_LOG = logging.getLogger("symnorm")


@dataclass(frozen=True)
class Plan:
    """Everything the executor needs, computed once at bind.

    Every entry (one output of one node) gets an integer *slot* in a value list.  ``op_nodes``
    is the execution order (MXNet's DFS order); ``in_slots``/``out_slots`` wire them;
    ``free_after[i]`` lists the slots whose last reader is op node ``i`` (released then
    unless they are outputs or bound arrays)."""
    symbol: object
    op_nodes: tuple
    in_slots: tuple
    out_slots: tuple
    arg_slot: dict          # argument name -> slot
    aux_slot: dict          # aux name -> slot
    head_slots: tuple
    head_nodes: tuple
    output_names: tuple
    slot_shape: tuple
    slot_dtype: tuple
    free_after: tuple
    pinned: tuple           # (arg name, value) pairs written at each forward (fix_gamma)
    inplace: tuple          # per op node: may its output overwrite its first input? (inference)
    inplace_train: tuple    # ... also when training (the backward state survives it)

    @staticmethod
    def build(symbol, shapes: dict, dtypes: dict) -> "Plan":
        nodes = dfs_postorder(symbol.entries)
        slot_of, shape_l, dtype_l = {}, [], []
        for n in nodes:
            for j in range(n.num_outputs()):
                slot_of[(n, j)] = len(shape_l)
                shape_l.append(shapes[(n, j)])
                dtype_l.append(np.dtype(dtypes[(n, j)]))
        aux_vars = {n.inputs[i].node for n in nodes for i in n.aux_slots()}
        arg_slot = {n.name: slot_of[(n, 0)] for n in nodes if n.is_variable and n not in aux_vars}
        aux_slot = {n.name: slot_of[(n, 0)] for n in nodes if n in aux_vars}
        op_nodes = tuple(n for n in nodes if not n.is_variable)
        in_slots = tuple(tuple(slot_of[(e.node, e.index)] for e in n.inputs) for n in op_nodes)
        out_slots = tuple(tuple(slot_of[(n, j)] for j in range(n.num_outputs())) for n in op_nodes)
        head_slots = tuple(slot_of[(e.node, e.index)] for e in symbol.entries)
        keep = set(head_slots) | set(arg_slot.values()) | set(aux_slot.values())
        last = {}
        for i, ins in enumerate(in_slots):
            for s in ins:
                last[s] = i
        free_after = [[] for _ in op_nodes]
        for s, i in last.items():
            if s not in keep:
                free_after[i].append(s)
        for i, outs in enumerate(out_slots):       # outputs nobody reads (hidden BN outputs)
            free_after[i].extend(s for s in outs if s not in last and s not in keep)
        producer = {s: n for n in op_nodes for s in (slot_of[(n, j)] for j in range(n.num_outputs()))}
        inplace = []
        for i, n in enumerate(op_nodes):
            ok = False
            if n.op.inplace and n.inputs:
                s0 = in_slots[i][0]
                src = producer.get(s0)
                ok = (src is not None and src.op.fresh_outputs and s0 in free_after[i]
                      and s0 not in keep and in_slots[i].count(s0) == 1
                      and shape_l[s0] == shape_l[out_slots[i][0]]
                      and dtype_l[s0] == dtype_l[out_slots[i][0]])
            inplace.append(ok)
        # in training other readers of the input may have saved it for their backward:
        # only a sole reader may overwrite it
        readers = {}
        for ins in in_slots:
            for s in set(ins):
                readers[s] = readers.get(s, 0) + 1
        inplace_train = tuple(ok and readers[in_slots[i][0]] == 1 and n.op.inplace_in_training()
                              and not producer[in_slots[i][0]].op.keeps_output()
                              for i, (n, ok) in enumerate(zip(op_nodes, inplace)))
        pinned = []
        for n in op_nodes:
            for slot_name, value in n.op.pinned_inputs().items():
                src = n.inputs[n.op.input_names().index(slot_name)].node
                if src.is_variable and src.name in arg_slot:
                    pinned.append((src.name, value))
        return Plan(symbol, op_nodes, in_slots, out_slots, arg_slot, aux_slot, head_slots,
                    tuple(e.node for e in symbol.entries), tuple(symbol.list_outputs()),
                    tuple(shape_l), tuple(dtype_l), tuple(tuple(f) for f in free_after),
                    tuple(pinned), tuple(inplace), inplace_train)


class Executor:
    """A bound graph: arrays for every argument, gradient, aux state and output.

    Create with ``Symbol.simple_bind`` or ``Symbol.bind``.  Attributes (MXNet's):
    ``arg_dict``, ``grad_dict`` (None where grad_req is 'null'), ``aux_dict``,
    ``output_dict``, ``arg_arrays``, ``grad_arrays``, ``aux_arrays``, ``outputs``.
    Everything else it was bound with is one ``ExecOptions`` record, ``options``, which
    ``reshape`` passes on whole; ``nan_check``, ``inplace`` and ``collective`` read (and the
    first two set) its fields.
    """

    def __init__(self, symbol, plan: Plan, arg_dict: dict, grad_dict: dict, aux_dict: dict,
                 options: ExecOptions):
        allocator.keep_freed_memory()      # freed outputs are reused, not re-faulted in
        self._symbol = symbol
        self._plan = plan
        self.arg_dict, self.grad_dict, self.aux_dict = arg_dict, grad_dict, aux_dict
        self._options = options
        self._last_train = None     # mode of the last forward (None before any)
        self._use_plan(plan)
        self.outputs = [np.zeros(plan.slot_shape[s], plan.slot_dtype[s]) for s in plan.head_slots]

    def _use_plan(self, plan: Plan):
        """Adopt ``plan``: derive the hot loops' tables (any pending step is dropped)."""
        self._plan = plan
        # parallel mode (symnorm.parallel) for plans with large arrays
        self._split = parallel.worth_splitting(max((math.prod(s) for s in plan.slot_shape), default=0))
        self._wants, self._on_path = autodiff.grad_path(plan, self._options.grad_req)
        self._on_path_set = set(self._on_path)
        self._build_steps()
        self._checked = set()       # modes whose outputs/gradients were shape-checked once
        self._saved = None          # saved state of the last forward, per op node index
        self._staged = None         # proposed aux values of the last training forward
        # where each op node's proposed aux values go (resolved once, not at every commit)
        self._aux_targets = {}
        for i, n in enumerate(plan.op_nodes):
            if n.op.aux:
                names = n.op.input_names()
                self._aux_targets[i] = tuple(self.aux_dict[n.inputs[names.index(a)].node.name]
                                             for a in n.op.aux)
        # heads made by ops whose outputs are always new arrays cannot alias a bound array
        self._head_fresh = [n.op is not None and n.op.fresh_outputs for n in plan.head_nodes]

    def _build_steps(self):
        """The hot loops' tables; ops that declare ``needs_comm`` get the collective bound."""
        plan, comm = self._plan, self._options.collective
        bind = (lambda f, op: functools.partial(f, comm=comm) if op.needs_comm else f)
        self._bwd_steps = [(i, bind(b, plan.op_nodes[i].op), *rest)
                           for (i, b, *rest) in autodiff.backward_steps(plan, self._wants, self._on_path)]
        self._fwd_steps = [(i, bind(n.op.forward, n.op), plan.in_slots[i], plan.out_slots[i],
                            plan.free_after[i], i in self._on_path_set,
                            (plan.inplace[i], plan.inplace_train[i]))
                           for i, n in enumerate(plan.op_nodes)]
        self._compiled = {}         # save flag -> the forward as straight-line code

    def set_collective(self, collective):
        """The communicator for collective ops (SyncBatchNorm) during data-parallel runs."""
        self._set_options(self._options.replace(collective=collective))

    # ------------------------------------------------------------------ options
    @property
    def options(self) -> ExecOptions:
        """Everything this executor was bound with besides its arrays (``ExecOptions``)."""
        return self._options

    def _set_options(self, options: ExecOptions):
        """Adopt ``options``, redoing only what the changed fields feed: the step tables bind
        the collective; a monitor needs a plan of the symbol as written."""
        old, self._options = self._options, options
        if options.monitor is not None and self._plan.symbol is not self._symbol:
            state, tstate = _infer_bound(self._symbol, self.arg_dict, self.aux_dict)
            self._use_plan(Plan.build(self._symbol, state, tstate))
        elif options.collective is not old.collective:
            self._build_steps()

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

    @property
    def _monitor(self):
        return self._options.monitor

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
            ", ".join(self._plan.output_names), len(self.arg_dict), len(self.aux_dict), mode)

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
            if k not in self.arg_dict:
                raise TypeError("Unknown argument %s; arguments are: %s"
                                % (k, ", ".join(self.arg_dict)))
            # a dtype-kind check, not a data scan: numpy would silently drop an imaginary part
            arr = v if type(v) is np.ndarray and v.dtype.kind in REAL_KINDS else \
                real_array(v, "forward: argument %r" % k)
            target = self.arg_dict[k]
            if arr.shape != target.shape:
                raise BindError("Shape not match! Argument %s, need: %s, received: %s"
                                % (k, target.shape, arr.shape))
            feeds[k] = arr.astype(target.dtype, copy=False)
        values = self._run(bool(is_train), feeds, save=bool(is_train))
        # success: commit the step's effects
        for k, arr in feeds.items():
            np.copyto(self.arg_dict[k], arr)
        for name, value in plan.pinned:
            self.arg_dict[name][...] = value
        self.outputs = [values[s] if fresh else self._own(values[s])
                        for s, fresh in zip(plan.head_slots, self._head_fresh)]
        self._last_train = bool(is_train)
        if is_train and self._options.aux_update == "forward":
            self._commit_aux()
        return self.outputs

    def _own(self, arr):
        # an output that aliases a bound array (identity, Reshape of an argument) is copied,
        # so that later writes to arg_dict do not change it
        for bound in self.arg_dict.values():
            if np.may_share_memory(arr, bound):
                return arr.copy()
        return arr

    def _run(self, train: bool, feeds: dict, save: bool):
        """Execute the plan.  Returns the slot values; sets ``_saved``/``_staged``."""
        plan = self._plan
        values = [None] * len(plan.slot_shape)
        for name, s in plan.arg_slot.items():
            values[s] = feeds.get(name, self.arg_dict[name])
        for name, s in plan.aux_slot.items():
            values[s] = self.aux_dict[name]
        saved, staged = [None] * len(plan.op_nodes), {}
        check = ("fwd", train) not in self._checked or self.nan_check or self._monitor is not None
        if not check:
            # steady state: the same steps as the loop below, compiled to straight-line code
            run = self._compiled.get(save)
            if run is None:
                run = self._compiled[save] = _compile_forward(plan, self._fwd_steps, save)
            try:
                run(values, saved, staged, train, self.inplace)
            except autodiff.AtNode as failure:
                self._raise_at(failure.index, failure.exc, None)
            self._saved = saved if save else None
            self._staged = staged if train else None
            return values
        i = -1
        try:
            # the hot loop: a few hundred ns per node on top of the op itself.  Planned ops
            # overwrite their dying input (Plan.inplace; when backward state is kept, only
            # where it survives that: Plan.inplace_train).  A monitor sees every input intact.
            mode = 1 if save else 0
            reuse = self.inplace and self._monitor is None
            for i, fwd, ins, outs, frees, on_path, inplace in self._fwd_steps:
                if len(ins) == 1:
                    a = values[ins[0]]
                    res = fwd(a, train=train, out=a) if (reuse and inplace[mode]) else fwd(a, train=train)
                else:
                    args = [values[s] for s in ins]
                    res = (fwd(*args, train=train, out=args[0]) if (reuse and inplace[mode])
                           else fwd(*args, train=train))
                out = res[0]
                if check:
                    self._check_outputs(i, [values[s] for s in ins], out)
                if len(outs) == 1:
                    values[outs[0]] = out[0]
                else:
                    for s, v in zip(outs, out):
                        values[s] = v
                if on_path and save:
                    saved[i] = res[2]
                if res[1] is not None and train:
                    staged[i] = res[1]
                    if self.nan_check:
                        self._check_proposed(i, res[1])
                for s in frees:
                    values[s] = None
        except Exception as exc:
            self._raise_at(i, exc, [values[s] for s in plan.in_slots[i]] if i >= 0 else None)
        self._checked.add(("fwd", train))
        self._saved = saved if save else None
        self._staged = staged if train else None
        return values

    def _raise_at(self, i, exc, ins):
        """Re-raise ``exc`` from op node ``i``'s forward with the node named (and, for an
        error the op did not anticipate, the input shapes: the arrays', or the plan's)."""
        plan = self._plan
        if isinstance(exc, FloatingPointError) or not 0 <= i < len(plan.op_nodes):
            raise exc
        node = plan.op_nodes[i]
        if isinstance(exc, SymnormError):
            raise type(exc)("%s: %s\n  while executing %s" % (node.describe(), exc, node.line())) from exc
        shapes = ([getattr(a, "shape", None) for a in ins] if ins is not None
                  else [plan.slot_shape[s] for s in plan.in_slots[i]])
        raise OpError("forward of %s failed: %s: %s\n  while executing %s\n  input shapes: %s"
                      % (node.describe(), type(exc).__name__, exc, node.line(),
                         ", ".join(str(s) for s in shapes))) from exc

    def _check_outputs(self, i, ins, outs):
        """First run per mode (and with nan_check or a monitor): verify what op ``i`` made."""
        plan = self._plan
        node = plan.op_nodes[i]
        slots = plan.out_slots[i]
        if len(outs) != len(slots):
            raise OpError("%s returned %d outputs, declared %d" % (node.describe(), len(outs), len(slots)))
        for j, (s, v) in enumerate(zip(slots, outs)):
            if v.shape != plan.slot_shape[s]:
                raise OpError("%s produced shape %s, shape inference said %s"
                              % (node.describe(), v.shape, plan.slot_shape[s]))
            if self.nan_check and v.dtype.kind == "f" and not np.isfinite(v).all():
                raise FloatingPointError("nan_check: %s produced a non-finite value in %r"
                                         % (node.describe(), node.output_name(j)))
        if self._monitor is not None:
            self._call_monitor(node, ins, outs)

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
        plan = self._plan
        if self._last_train is None:
            raise BindError("backward() called before any forward()")
        heads = autodiff.head_gradients(plan, out_grads, self._wants)
        if not self._last_train:
            if is_train:
                warnings.warn("backward() after forward(is_train=False): differentiating the "
                              "inference computation (moving statistics as constants); call "
                              "backward(..., is_train=False) to silence this", stacklevel=2)
            if self._saved is None:
                self._run(False, {}, save=True)
        elif self._saved is None:
            raise BindError("backward(): the training forward kept no state")
        buffers = None if self.nan_check else {
            plan.arg_slot[k]: b for k, b in self.grad_dict.items()
            if b is not None and self._options.grad_req.get(k) == "write"}
        if ("bwd", self._last_train) not in self._checked:
            grads = autodiff.run_backward(plan, self._saved, heads, self._bwd_steps,
                                          check=True, buffers=buffers)
        else:               # steady state: the same steps as straight-line code
            run = self._compiled.get("bwd")
            if run is None:
                run = self._compiled["bwd"] = autodiff.compile_backward(plan, self._bwd_steps)
            try:
                grads = run(self._saved, heads, buffers)
            except autodiff.AtNode as failure:
                node = plan.op_nodes[failure.index]
                raise OpError("backward of %s failed: %s: %s\n  while executing %s"
                              % (node.describe(), type(failure.exc).__name__, failure.exc,
                                 node.line())) from failure.exc
        self._checked.add(("bwd", self._last_train))
        if self.nan_check:
            for s, g in grads.items():
                if g.dtype.kind == "f" and not np.isfinite(g).all():
                    name = next(k for k, v in plan.arg_slot.items() if v == s)
                    raise FloatingPointError("nan_check: the gradient of %r is not finite" % name)
        # success: write gradients, then commit aux (exactly once per training forward)
        for name, slot in plan.arg_slot.items():
            req = self._options.grad_req.get(name, "null")
            buf = self.grad_dict.get(name)
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
        if self._last_train and self._options.aux_update == "backward":
            self._commit_aux()

    def _check_proposed(self, i, new):
        """nan_check: op node ``i``'s proposed aux values must be finite."""
        node = self._plan.op_nodes[i]
        for name, value in zip(node.op.aux, new):
            if not _all_finite(value):
                raise FloatingPointError("nan_check: %s proposed a non-finite %r (the batch "
                                         "statistics are not finite)" % (node.describe(), name))

    def _commit_aux(self):
        """The one place aux states change: staged values copied into ``aux_dict`` arrays,
        except a node's whose proposal is not finite (module docstring).  The check reads
        the proposed arrays only (C-sized for the norms), never the batch."""
        staged, self._staged = self._staged, None
        if not staged:
            return
        for i, new in staged.items():
            if not all(_all_finite(v) for v in new):
                node = self._plan.op_nodes[i]
                bad = [(a, v) for a, v in zip(node.op.aux, new) if not _all_finite(v)]
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
        input too with ``monitor_all``), as MXNet's ``Monitor`` does.  The executor then
        runs the graph exactly as written (no batch-last regions), so every array the
        callback sees has the shape the symbol gives it."""
        self._set_options(self._options.replace(monitor=callback, monitor_all=bool(monitor_all)))

    def _call_monitor(self, node, ins, outs):
        if self._options.monitor_all:
            for slot, a in zip(node.op.input_names(), ins):
                self._monitor("%s_%s" % (node.name, slot), a)
        for j in range(node.num_visible()):
            self._monitor(node.output_name(j), outs[j])

    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        """Copy values into the bound arguments and aux states (all checked before any copy)."""
        todo = []
        for params, target, kind in ((arg_params, self.arg_dict, "arguments"),
                                     (aux_params or {}, self.aux_dict, "auxiliary states")):
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
        """A new executor for new input shapes, sharing every array whose shape is unchanged
        and running with the same ``options`` (the record is passed on whole: communicator,
        monitor, ``nan_check``, in-place policy, grad_req, ...)."""
        state, nodes, _ = shape_entries(self._symbol, (), dict(kwargs))
        new_shapes = {n.name: state.get((n, 0)) for n in nodes if n.is_variable}
        arg_dict, grad_dict, aux_dict = {}, {}, {}
        for src, dst, grads in ((self.arg_dict, arg_dict, True), (self.aux_dict, aux_dict, False)):
            for name, arr in src.items():
                new = new_shapes.get(name)
                if new is None or None in new:
                    raise BindError("reshape: cannot infer the new shape of %r; give it" % name)
                new = tuple(new)
                if new == arr.shape:
                    dst[name] = arr
                    if grads:
                        grad_dict[name] = self.grad_dict.get(name)
                    continue
                if name not in kwargs and not partial_shaping:
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
                dst[name] = np.zeros(new, arr.dtype)
                if grads:
                    old = self.grad_dict.get(name)
                    grad_dict[name] = None if old is None else np.zeros(new, old.dtype)
        return _make_executor(self._symbol, arg_dict, grad_dict, aux_dict, self._options)

    def _inference_liveness(self):
        """(peak live activation buffers, peak bytes) of an inference forward, from the plan."""
        plan = self._plan
        live, peak, peak_bytes, cur = set(), 0, 0, 0
        for i in range(len(plan.op_nodes)):
            for s in plan.out_slots[i]:
                live.add(s)
                cur += _nbytes(plan, s)
            peak, peak_bytes = max(peak, len(live)), max(peak_bytes, cur)
            for s in plan.free_after[i]:
                if s in live:
                    live.discard(s)
                    cur -= _nbytes(plan, s)
        return peak, peak_bytes

    def memory_report(self) -> str:
        """The planned value buffers of an inference forward: peak live activations, bytes."""
        plan = self._plan
        peak, peak_bytes = self._inference_liveness()
        bound = set(plan.arg_slot.values()) | set(plan.aux_slot.values())
        params = sum(_nbytes(plan, s) for s in bound)
        grads = sum(g.nbytes for g in self.grad_dict.values() if g is not None)
        lines = ["arguments + aux: %d arrays, %s" % (len(bound), _mib(params)),
                 "gradients: %s" % _mib(grads),
                 "activations (inference): peak %d live buffers, %s" % (peak, _mib(peak_bytes)),
                 "in place (inference): %d of %d op nodes reuse their input's buffer"
                 % (sum(plan.inplace), len(plan.op_nodes))]
        return "\n".join(lines)

    def peak_live_activations(self) -> int:
        """Peak number of activation buffers alive at once during an inference forward."""
        return self._inference_liveness()[0]

    def debug_str(self) -> str:
        """The plan: one line per op node with its output shapes, then the memory report."""
        plan = self._plan
        lines = []
        for i, n in enumerate(plan.op_nodes):
            shapes = ", ".join(str(plan.slot_shape[s]) for s in plan.out_slots[i])
            mark = " [grad]" if i in self._on_path_set else ""
            lines.append("%s  -> %s%s" % (n.line(), shapes, mark))
        return "\n".join(lines + [self.memory_report()])


def _compile_forward(plan, steps, save: bool):
    """The forward loop of ``Executor._run`` unrolled for this plan into straight-line Python
    (values in local variables, in-place and saving decisions made here), the way PyTorch FX
    turns a graph into code: ~0.3 µs less per node than interpreting the step table.

    ``run(values, saved, staged, train, reuse)`` reads bound values from ``values``, writes
    the heads back into it, fills ``saved``/``staged``, and raises ``autodiff.AtNode`` on
    failure."""
    ns = {}
    bound = sorted(set(plan.arg_slot.values()) | set(plan.aux_slot.values()))
    body = ["v%d = values[%d]" % (s, s) for s in bound]
    for i, fwd, ins, outs, frees, on_path, inplace in steps:
        ns["f%d" % i] = fwd
        args = ", ".join("v%d" % s for s in ins)
        call = "f%d(%s, train=train)" % (i, args)
        body.append("cur = %d" % i)
        if inplace[1 if save else 0]:
            body.append("r = f%d(%s, train=train, out=v%d) if reuse else %s" % (i, args, ins[0], call))
        else:
            body.append("r = " + call)
        if len(outs) == 1:
            body.append("v%d = r[0][0]" % outs[0])
        else:
            body.append("%s, = r[0]" % ", ".join("v%d" % s for s in outs))
        if on_path and save:
            body.append("saved[%d] = r[2]" % i)
        if plan.op_nodes[i].op.aux:
            body += ["if train and r[1] is not None:", "    staged[%d] = r[1]" % i]
        body.extend("v%d = None" % s for s in frees)
    body.extend("values[%d] = v%d" % (s, s) for s in sorted(set(plan.head_slots)) if s not in bound)
    return autodiff.straight_line("values, saved, staged, train, reuse", body, ns, "forward plan")


def _all_finite(a) -> bool:
    """Whether every value of ``a`` is finite (~1.5 µs on a C-sized statistic; a float sum
    first would save 0.5 µs but warns of overflow on large finite values)."""
    a = np.asarray(a)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _is_view_of(a, buf):
    return a.base is buf or (a.base is not None and a.base is buf.base and buf.base is not None
                             and a.__array_interface__["data"] == buf.__array_interface__["data"])


def _nbytes(plan, s):
    return int(np.prod(plan.slot_shape[s])) * plan.slot_dtype[s].itemsize


def _mib(n):
    return "%.3f MiB" % (n / 2.0 ** 20)


# ====================================================================== binding

def _normalize_grad_req(grad_req, arg_names, where_text):
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


def _check_unique(symbol):
    names = symbol.list_inputs()
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise BindError("Duplicate names detected among the inputs: %s" % ", ".join(dup))


def _infer_for_bind(symbol, shapes: dict, types: dict, where_text: str):
    state, nodes, _ = shape_entries(symbol, (), shapes)
    missing = [n.name for n in nodes if n.is_variable and
               (state.get((n, 0)) is None or None in state[(n, 0)])]
    if missing:
        raise BindError("%s: cannot decide the shapes of %s; give them as keyword shapes "
                        "(e.g. %s=(...))" % (where_text, ", ".join(missing), missing[0]))
    bad = [n for n in nodes for j in range(n.num_outputs())
           if state.get((n, j)) is None or None in state[(n, j)]]
    if bad:
        raise BindError("%s: cannot decide the output shapes of %s"
                        % (where_text, ", ".join(sorted({n.describe() for n in bad}))))
    tstate, _ = type_entries(symbol, (), types, default=np.float32)
    return state, tstate, nodes


def build_plan(symbol, state: dict, tstate: dict, layout_pass=None) -> Plan:
    """The bind-time plan: for the batch-last rewrite of ``symbol`` (``symnorm.layout``)
    when the pass is on (``layout_pass``; None = ``layout.enabled()``) and finds a region,
    else for ``symbol`` itself.  ``state``/``tstate`` are ``symbol``'s inferred shapes/types."""
    if layout_pass is None:
        layout_pass = layout.enabled()
    if layout_pass:
        fast = layout.to_batch_last(symbol, state)
        if fast is not symbol:
            variables = [n for n in dfs_postorder(symbol.entries) if n.is_variable]
            shapes = {n.name: state[(n, 0)] for n in variables}
            types = {n.name: tstate[(n, 0)] for n in variables}
            state, tstate, _ = _infer_for_bind(fast, shapes, types, "bind")
            symbol = fast
    return Plan.build(symbol, state, tstate)


def _make_executor(symbol, arg_dict, grad_dict, aux_dict, options: ExecOptions):
    state, tstate = _infer_bound(symbol, arg_dict, aux_dict)
    plan = build_plan(symbol, state, tstate, options.plan_layout)
    return Executor(symbol, plan, arg_dict, grad_dict, aux_dict, options)


def _bind_options(reqs, aux_update, ctx, layout_pass) -> ExecOptions:
    """The options ``bind``/``simple_bind`` start an executor with (the layout default is
    read once, here, so every executor reshaped from this one decides alike)."""
    return ExecOptions(grad_req=reqs, aux_update=aux_update, ctx=ctx or cpu(),
                       layout_pass=layout.enabled() if layout_pass is None else bool(layout_pass))


def _infer_bound(symbol, arg_dict, aux_dict):
    shapes = {k: v.shape for k, v in arg_dict.items()}
    shapes.update({k: v.shape for k, v in aux_dict.items()})
    types = {k: v.dtype for k, v in arg_dict.items()}
    state, tstate, _ = _infer_for_bind(symbol, shapes, types, "bind")
    return state, tstate


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
    _check_unique(symbol)
    state, tstate, nodes = _infer_for_bind(symbol, shapes, dict(type_dict or {}), "simple_bind")
    arg_names = symbol.list_arguments()
    reqs = _normalize_grad_req(grad_req, arg_names, "simple_bind")
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
        if src is not None and src.arg_dict[k].shape == shp and src.arg_dict[k].dtype == dt:
            arg_dict[k] = src.arg_dict[k]
            grad_dict[k] = src.grad_dict.get(k) if reqs[k] != "null" else None
            continue
        arg_dict[k] = np.zeros(shp, dt)
        grad_dict[k] = None if reqs[k] == "null" else np.zeros(shp, dt)
    for k in symbol.list_auxiliary_states():
        n = by_name[k]
        aux_dict[k] = np.zeros(tuple(state[(n, 0)]), tstate[(n, 0)])
    options = _bind_options(reqs, aux_update, ctx, layout_pass)
    plan = build_plan(symbol, state, tstate, options.plan_layout)
    return Executor(symbol, plan, arg_dict, grad_dict, aux_dict, options)


def _as_named(arrays, names, what, required=True):
    if arrays is None:
        arrays = {}
    if isinstance(arrays, (list, tuple)):
        if len(arrays) != len(names):
            raise BindError("bind: %s has %d arrays, expected %d (%s)"
                            % (what, len(arrays), len(names), ", ".join(names)))
        arrays = dict(zip(names, arrays))
    if not isinstance(arrays, dict):
        raise BindError("bind: %s must be a list or a dict of numpy arrays" % what)
    extra = [k for k in arrays if k not in names]
    if extra:
        raise BindError("bind: %s has unknown name(s) %s; expected: %s"
                        % (what, ", ".join(extra), ", ".join(names)))
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
            out[k] = arrays[k]
    return out


def bind(symbol, ctx=None, args=None, args_grad=None, grad_req="write", aux_states=None,
         group2ctx=None, shared_exec=None, aux_update="backward", layout_pass=None):
    """Bind user-owned arrays: they are used in place, so the caller sees every update.

    ``args``/``args_grad``/``aux_states`` are lists in ``list_*`` order or dicts.  An
    argument left out of ``args_grad`` gets no gradient (its ``grad_dict`` entry is None).
    """
    _check_unique(symbol)
    arg_names = symbol.list_arguments()
    aux_names = symbol.list_auxiliary_states()
    arg_dict = _as_named(args, arg_names, "args")
    aux_dict = _as_named(aux_states, aux_names, "aux_states")
    grads = _as_named(args_grad, arg_names, "args_grad", required=False)
    reqs = _normalize_grad_req(grad_req, arg_names, "bind")
    reqs = {k: (r if k in grads else "null") for k, r in reqs.items()}
    shapes = {k: v.shape for k, v in arg_dict.items()}
    shapes.update({k: v.shape for k, v in aux_dict.items()})
    try:
        state, tstate, nodes = _infer_for_bind(symbol, shapes, {k: v.dtype for k, v in arg_dict.items()}, "bind")
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
    options = _bind_options(reqs, aux_update, ctx, layout_pass)
    plan = build_plan(symbol, state, tstate, options.plan_layout)
    return Executor(symbol, plan, arg_dict, grad_dict, aux_dict, options)


__all__ = ["Executor", "Plan", "Context", "cpu", "bind", "simple_bind"]
