"""``Module``: MXNet 1.x's training API over one executor -- bind, init_params,
init_optimizer, forward/backward/update, fit with a progress bar, score, predict,
checkpoints.  The fit loop (``fit.FitLoop``) and the optimizer-state files
(``opt_states.OptimizerStates``) are mixins in their own modules.

``fixed_param_names`` freezes arguments (``grad_req='null'``); aux states are never
"fixed" by it: freezing BatchNorm's statistics is ``use_global_stats``
(``symnorm.freeze_batchnorm``)."""
from __future__ import annotations

import logging
import warnings

import numpy as np

from . import initializer as _init
from . import optimizer as _opt
from ..core.dtype import real_array
from ..core.errors import BindError, MissingParamError, ShapeTypeError
from ..core.graph import pinned_arguments
from ..runtime.executor import cpu
from .io import DataDesc
from ..interop import checkpoint as _ckpt
from ..interop.model import load_params, save_params
from .transaction import Transaction, state_arrays
from .contexts import Contexts, batch_axis
from .base_module import BaseModule
from .opt_states import OptimizerStates

_LOG = logging        # MXNet's Module logs through the logging module (the root logger)


_DEFAULT_INIT = object()     # init_params without an initializer argument: Uniform(0.01)


def _descs(shapes):
    out = []
    for s in shapes or []:
        if not isinstance(s, DataDesc) and not (isinstance(s, (list, tuple)) and len(s) == 2
                                                and isinstance(s[0], str)):
            raise ShapeTypeError("data_shapes/label_shapes: each entry must be a DataDesc or a "
                                 "(name, shape) pair, got %r" % (s,))
        out.append(s if isinstance(s, DataDesc) else DataDesc(s[0], s[1]))
    return out


class Module(BaseModule, OptimizerStates):
    """A symbol with its parameters, optimizer and executor.

    >>> import numpy as np, symnorm as sn
    >>> net = sn.sym.SoftmaxOutput(sn.sym.FullyConnected(sn.sym.Variable('data'), num_hidden=2), name='softmax')
    >>> mod = sn.Module(net)
    >>> it = sn.io.NDArrayIter(np.random.rand(8, 3), np.arange(8) % 2, batch_size=4)
    >>> mod.fit(it, num_epoch=1, progress=False)
    >>> sorted(mod.get_params()[0])
    ['fullyconnected0_bias', 'fullyconnected0_weight']
    """

    def __init__(self, symbol, data_names=("data",), label_names=("softmax_label",), logger=None,
                 context=None, work_load_list=None, fixed_param_names=None, state_names=None,
                 group2ctxs=None):
        self._symbol = symbol
        self.logger = logger or _LOG
        self._contexts = Contexts(context, work_load_list, group2ctxs)
        args = symbol.list_arguments()
        self._data_names = list(data_names or [])
        missing = [d for d in self._data_names if d not in args]
        if missing:
            raise BindError("Module: data name(s) %s are not arguments of the symbol (arguments: %s)"
                            % (", ".join(missing), ", ".join(args)))
        self._label_names = [l for l in (label_names or []) if l in args]
        absent = [l for l in (label_names or []) if l not in args]
        if absent:
            # MXNet's warning: a label with another name would otherwise be taken for a
            # parameter (and fail to initialize, or train as one)
            candidates = [a for a in args if a not in self._data_names and
                          not a.endswith(("_weight", "_bias", "_gamma", "_beta"))]
            warnings.warn("You created Module with Module(..., label_names=%s) but input with "
                          "name '%s' is not found in symbol.list_arguments(). Did you mean one "
                          "of:\n\t%s" % (list(label_names), absent[0], "\n\t".join(candidates)),
                          stacklevel=2)
        self._param_names = [a for a in args if a not in self._data_names + self._label_names]
        self._fixed_param_names = list(fixed_param_names or [])
        unknown = [f for f in self._fixed_param_names if f not in self._param_names]
        if unknown:
            raise BindError("Module: fixed_param_names %s are not parameters of the symbol" % unknown)
        self._aux_names = symbol.list_auxiliary_states()
        self._output_names = symbol.list_outputs()
        self._exec = None
        self._monitor = None            # what install_monitor installed
        self.binded = self.params_initialized = self.optimizer_initialized = False
        self.for_training = self.inputs_need_grad = False
        self._preloaded = None          # (arg, aux) from Module.load, applied at init_params
        self._preloaded_states = None   # (path, arrays) Module.load read, applied at init_optimizer
        self._optimizer = None
        self._states: dict = {}
        self._update_tx = Transaction()     # keeps its backup buffers between updates
        self._kv = None
        self._data_shapes = self._label_shapes = None

    # ------------------------------------------------------------------ properties
    symbol = property(lambda self: self._symbol)
    data_names = property(lambda self: self._data_names)
    label_names = property(lambda self: self._label_names)
    output_names = property(lambda self: self._output_names)
    data_shapes = property(lambda self: self._data_shapes)
    label_shapes = property(lambda self: self._label_shapes)

    @property
    def output_shapes(self):
        return [(n, o.shape) for n, o in zip(self._output_names, self._exec.outputs)]

    # ------------------------------------------------------------------ binding
    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        """Allocate the executor for these input shapes.  Parameters that are already
        initialized (by ``init_params``, or by ``Module.load``) are applied to it, as in
        MXNet; a rebind that would change a parameter's shape raises and changes nothing."""
        if self.binded and not force_rebind:
            warnings.warn("Module is already bound; pass force_rebind=True to rebind", stacklevel=2)
            return
        data_descs = _descs(data_shapes)
        label_descs = [d for d in _descs(label_shapes) if d.name in self._label_names]
        shapes = {d.name: d.shape for d in data_descs + label_descs}
        types = {d.name: getattr(d, "dtype", np.float32) for d in data_descs}
        reqs = {}
        pinned = pinned_arguments(self._symbol)      # fix_gamma gammas: never trained, stay 1
        for name in self._symbol.list_arguments():
            if name in self._data_names:
                reqs[name] = "write" if inputs_need_grad else "null"
            elif (name in self._label_names or name in self._fixed_param_names or name in pinned
                  or not for_training):
                reqs[name] = "null"
            else:
                reqs[name] = grad_req
        new = self._symbol.simple_bind(cpu(), grad_req=reqs, type_dict=types, **shapes)
        if self._exec is not None:
            # a rebind keeps how the executor runs: a lost communicator would make
            # SyncBatchNorm fall back to local statistics without a word
            opts = self._exec.options
            if opts.collective is not None:
                new.set_collective(opts.collective)
            if opts.monitor is not None:
                new.set_monitor_callback(opts.monitor, opts.monitor_all)
            new.nan_check, new.inplace = opts.nan_check, opts.inplace
        # the values the new executor starts from: the bound ones, else those Module.load read
        if self._exec is not None:
            values = ({k: self._exec.arg_dict[k] for k in self._param_names}, dict(self._exec.aux_dict))
        else:
            values = self._preloaded
        if values is not None:
            self._check_param_shapes(new, values, "bind(%s)" % _fmt_shapes(shapes))
            new.copy_params_from(*values, allow_extra_params=True)
            if self.params_initialized:
                self._preloaded = None
        self._adopt(new)
        self._data_shapes, self._label_shapes = data_descs, label_descs
        self.for_training, self.binded = for_training, True
        self.inputs_need_grad = inputs_need_grad

    def _check_param_shapes(self, executor, values, what):
        """Raise unless every parameter and aux state in ``values`` (arg, aux) keeps its
        shape in ``executor``: new input shapes must not silently replace trained values."""
        for given, bound in zip(values, (executor.arg_dict, executor.aux_dict)):
            for name, value in given.items():
                if name in bound and tuple(np.shape(value)) != bound[name].shape:
                    raise BindError(
                        "Module.%s: parameter %r would change shape from %s to %s; the input "
                        "shapes must keep every parameter's shape (bind a new Module for another "
                        "network input)" % (what, name, tuple(np.shape(value)), bound[name].shape))

    def _reshape_executor(self, shapes, what):
        """The executor for new input ``shapes``, parameters shared; raises (changing
        nothing) when a parameter or aux state would change shape."""
        new = self._exec.reshape(partial_shaping=True, allow_up_sizing=True, **shapes)
        self._check_param_shapes(new, ({k: self._exec.arg_dict[k] for k in self._param_names},
                                       self._exec.aux_dict), what)
        return new

    def _adopt(self, new):
        """Use the reshaped or rebound executor ``new``; an installed Monitor follows it."""
        if hasattr(self._monitor, "replace"):
            self._monitor.replace(self._exec, new)
        self._exec = new

    def _need(self, what, params=False):
        if not self.binded:
            raise BindError("Module: call bind() before %s" % what)
        if params and not self.params_initialized:
            raise BindError("Module: call init_params() (or set_params) before %s: the "
                            "parameters are not initialized" % what)

    # ------------------------------------------------------------------ parameters
    def init_params(self, initializer=_DEFAULT_INIT, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        """Fill parameters from ``arg_params``/``aux_params``, the rest with ``initializer``
        (default ``Uniform(0.01)``, MXNet's); a variable's ``__init__`` attribute wins.  A
        given dict (even empty) must hold every parameter of its kind unless
        ``allow_missing``; with ``initializer=None`` the missing ones keep their values
        (what ``set_params(..., allow_missing=True)`` relies on, as in MXNet)."""
        if self.params_initialized and not force_init:
            warnings.warn("Parameters already initialized and force_init=False. "
                          "init_params call ignored.", stacklevel=2)     # MXNet's words
            return
        self._need("init_params")
        if arg_params is None and aux_params is None and self._preloaded is not None:
            arg_params, aux_params = self._preloaded
        init = (_init.Uniform(0.01) if initializer is _DEFAULT_INIT else
                None if initializer is None else _init.create(initializer))
        attrs = self._symbol.attr_dict()
        # all or nothing: a bad value or a failing initializer midway puts back every
        # parameter already written
        with Transaction() as tx:
            for given, names, target, kind in ((arg_params, self._param_names, self._exec.arg_dict, "arg"),
                                               (aux_params, self._aux_names, self._exec.aux_dict, "aux")):
                supplied = given is not None
                given = given or {}
                missing = [n for n in names if n not in given]
                if supplied and missing and not allow_missing:     # checked first, as MXNet
                    one = len(missing) == 1
                    raise MissingParamError("init_params: %s %s not presented in the given %s "
                                            "params (use allow_missing=True to initialize %s)"
                                            % (", ".join(map(repr, missing)), "is" if one else "are",
                                               kind, "it" if one else "them"))
                # names the symbol lacks are skipped, as MXNet's init_params does: a full
                # checkpoint loads into a module of part of the net (feature extraction)
                for name in names:
                    arr = target[name]
                    tx.save(arr)
                    if name in given:
                        value = real_array(given[name], "init_params: %s param %r" % (kind, name))
                        if value.shape != arr.shape:
                            raise BindError("init_params: %r has shape %s, the symbol needs %s"
                                            % (name, value.shape, arr.shape))
                        np.copyto(arr, value.astype(arr.dtype, copy=False))
                    elif init is not None:
                        init(_init.InitDesc(name, attrs.get(name, {})), arr)
        self.params_initialized = True
        self._preloaded = None

    def get_params(self):
        """Copies of ``(arg_params, aux_params)``."""
        self._need("get_params", params=True)
        return ({k: self._exec.arg_dict[k].copy() for k in self._param_names},
                {k: self._exec.aux_dict[k].copy() for k in self._aux_names})

    def set_params(self, arg_params, aux_params, allow_missing=False, force_init=True, allow_extra=False):
        """Assign parameters (shape-checked); missing ones raise unless ``allow_missing``.
        Names the symbol lacks are skipped, except with ``allow_missing=True`` and not
        ``allow_extra``, where MXNet copies straight into the executor and refuses them."""
        if allow_missing and not allow_extra and not (self.params_initialized and not force_init):
            for kind, given, names in (("arg", arg_params, self._param_names),
                                       ("aux", aux_params, self._aux_names)):
                extra = sorted(k for k in (given or {}) if k not in names)
                if extra:
                    raise BindError("set_params: %s params %s are not in the symbol (use allow_extra=True)"
                                    % (kind, ", ".join(extra)))
        self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                         allow_missing=allow_missing, force_init=force_init, allow_extra=allow_extra)

    # ------------------------------------------------------------------ optimizer
    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        """Create the optimizer; ``rescale_grad`` defaults to 1/batch size, as in MXNet."""
        if self.optimizer_initialized and not force_init:
            return
        self._need("init_optimizer", params=True)
        from . import kv as _kv
        self._kv = _kv.create(kvstore) if kvstore is not None else _kv.create("local")
        params = dict(optimizer_params)
        batch = self._data_shapes[0].shape[0] * self._kv.num_workers     # MXNet's rescale
        params.setdefault("rescale_grad", 1.0 / batch)
        if self._distributed:
            self._start_distributed()
        idx2name = dict(enumerate(self._param_names))
        if isinstance(optimizer, _opt.Optimizer):
            if optimizer.rescale_grad != params["rescale_grad"]:
                warnings.warn("Optimizer created manually outside Module but rescale_grad is not "
                              "normalized to 1.0/batch_size/num_workers (%s vs. %s). Is this "
                              "intended?" % (optimizer.rescale_grad, params["rescale_grad"]),
                              stacklevel=2)                          # MXNet's words
            self._optimizer = optimizer
            if not optimizer.idx2name:      # made without names: keep the user's multipliers
                optimizer.bind_names(idx2name, self._symbol)
        else:
            self._optimizer = _opt.create(optimizer, param_idx2name=idx2name, sym=self._symbol, **params)
        self._states = {}
        self.optimizer_initialized = True
        if self._preloaded_states is not None:
            self._apply_optimizer_states(self._preloaded_states[1], self._preloaded_states[0])
            self._preloaded_states = None

    @property
    def _distributed(self):
        return self._kv is not None and self._kv.num_workers > 1

    @property
    def _rank0(self):
        return self._kv is None or self._kv.rank == 0

    def _start_distributed(self):
        """Check every rank bound the same graph, then take rank 0's parameters."""
        shapes = sorted((k, v.shape, str(v.dtype)) for k, v in
                        list(self._exec.arg_dict.items()) + list(self._exec.aux_dict.items()))
        self._kv.check_same("graph and parameter shapes", self._symbol.tojson() + repr(shapes))
        for name in self._param_names + self._aux_names:
            arr = self._exec.np_arg_dict.get(name)
            self._kv.collective.broadcast(arr if arr is not None else self._exec.np_aux_dict[name])
        self._exec.set_collective(self._kv.collective)

    # ------------------------------------------------------------------ computation
    def _feed(self, data_batch):
        # arrays go by the batch's own names when it has them, else by the bind order (as
        # MXNet loads them: by position in the bound data shapes)
        # (by position too when its names are not the module's: NDArrayIter([a, b]) says
        # _0_data, _1_data; and any object with .data, e.g. a namedtuple, is a batch)
        names = _names(getattr(data_batch, "provide_data", None), self._data_shapes)
        feeds = dict(zip(names, data_batch.data))
        label = getattr(data_batch, "label", None)
        if label is not None:
            labels = _names(getattr(data_batch, "provide_label", None), self._label_shapes) \
                or self._label_names
            feeds.update((k, v) for k, v in zip(labels, label) if k in self._label_names)
        shapes = {k: np.shape(v) for k, v in feeds.items()}
        if any(self._exec.arg_dict[k].shape != shape for k, shape in shapes.items()
               if k in self._exec.arg_dict):
            self._adopt(self._reshape_executor(shapes, "forward(%s)" % _fmt_shapes(shapes)))
            # the module now has the batch's shapes, as after MXNet's implicit reshape
            self._data_shapes, self._label_shapes = (
                [DataDesc(d.name, shapes.get(d.name, d.shape), d.dtype, d.layout) for d in descs]
                for descs in (self._data_shapes, self._label_shapes or []))
        return feeds

    def forward(self, data_batch, is_train=None):
        """Run the bound network on ``data_batch``; a batch of other input shapes rebinds
        (parameters shared, never re-initialized: a shape change of any parameter raises)."""
        self._need("forward", params=True)
        is_train = self.for_training if is_train is None else is_train
        feeds = self._feed(data_batch)          # may swap in a reshaped executor
        self._exec.forward(is_train=is_train, **feeds)

    def backward(self, out_grads=None):
        self._exec.backward(out_grads)

    def update(self):
        """One optimizer step on every trainable parameter that has a gradient, all or
        nothing: if it fails (an exception, or Ctrl-C) no parameter, optimizer state or
        update count has changed (``symnorm.transaction``)."""
        if not self.optimizer_initialized:
            raise BindError("Module: call init_optimizer() before update()")
        if self._distributed:           # sum gradients across ranks, in a few big collectives
            self._kv.allreduce_sum([g for g in (self._exec.np_grad_dict.get(n) for n in self._param_names)
                                    if g is not None])
        # all or nothing: an exception midway puts back every weight, state and counter
        # changed so far; Ctrl-C is held until the step has landed whole
        with self._update_tx as tx:
            tx.snapshot(self._optimizer)
            tx.snapshot(self._states)
            if self._optimizer.lr_scheduler is not None:
                tx.snapshot(self._optimizer.lr_scheduler)
            for i, name in enumerate(self._param_names):
                grad = self._exec.np_grad_dict.get(name)
                if grad is None:
                    continue
                weight = self._exec.np_arg_dict[name]
                if i not in self._states:
                    self._states[i] = self._optimizer.create_state_multi_precision(i, weight)
                state = self._states[i]
                tx.save(weight, *state_arrays(state))
                # (MXNet's updater: float32 master copies of float16 weights under
                # multi_precision, plain update otherwise)
                self._optimizer.update_multi_precision(i, weight, grad, state)
        if self._distributed and self._aux_names:    # keep plain BatchNorm statistics in step
            self._kv.average([self._exec.np_aux_dict[n] for n in self._aux_names])

    def get_outputs(self, merge_multi_context=True):
        """The outputs of the last forward (``merge_multi_context=False``: per output, its
        parts per context, as ``symnorm.train.contexts`` describes)."""
        outs = list(self._exec.outputs)
        return outs if merge_multi_context else self._per_context(
            outs, [self._symbol[n].attr("__layout__") for n in self._output_names])

    def _per_context(self, arrays, layouts):
        desc = (self._data_shapes or [None])[0]      # no data inputs: nothing to split by
        return self._contexts.per_context(arrays, [batch_axis(l) for l in layouts],
                                          desc and desc.shape[batch_axis(desc.layout)])

    def get_input_grads(self, merge_multi_context=True):
        """The gradients of the data inputs from the last backward (bind with
        ``inputs_need_grad=True``): saliency maps, adversarial examples.  After a
        ``forward(is_train=False)`` the moving statistics are constants."""
        if not self.inputs_need_grad:
            raise BindError("Module: get_input_grads() needs bind(..., inputs_need_grad=True)")
        grads = [self._exec.grad_dict[name] for name in self._data_names]
        return grads if merge_multi_context else self._per_context(
            grads, [d.layout for d in self._data_shapes])

    def reshape(self, data_shapes, label_shapes=None):
        """Rebind for new input shapes (a new batch size, say), keeping the parameters."""
        self._need("reshape")
        data_descs = _descs(data_shapes)
        label_descs = [d for d in _descs(label_shapes) if d.name in self._label_names]
        shapes = {d.name: d.shape for d in data_descs + label_descs}
        self._adopt(self._reshape_executor(shapes, "reshape(%s)" % _fmt_shapes(shapes)))
        self._data_shapes, self._label_shapes = data_descs, label_descs

    def save_params(self, fname):
        """Parameters and aux states to an MXNet ``.params`` file (``arg:``/``aux:`` keys)."""
        save_params(fname, *self.get_params())

    def load_params(self, fname):
        """Parameters and aux states from a ``.params`` file (``save_params``'s or MXNet's)."""
        self.set_params(*load_params(fname))

    def install_monitor(self, mon):
        """Watch every op output: ``mon`` is a callable ``(name, array)`` or an object with
        ``install(executor)`` (MXNet's ``Monitor``)."""
        self._need("install_monitor")
        self._monitor = mon
        if hasattr(mon, "install"):
            mon.install(self._exec)
        else:
            self._exec.set_monitor_callback(mon)

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        """Update ``eval_metric`` with ``labels`` and the last outputs."""
        eval_metric.update(list(labels), self.get_outputs())

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, prefix, epoch, save_optimizer_states=False, remove_amp_cast=True):
        """``prefix-symbol.json``, ``prefix-%04d.params`` (and ``.states``) as one set: after
        a crash at any moment the old set or the new one loads, never a mix
        (``symnorm.checkpoint``); in a data-parallel run only rank 0 writes."""
        if not self._rank0:
            return
        arg, aux = self.get_params()
        states = self._optimizer_states() if save_optimizer_states else None
        _ckpt.save(prefix, epoch, self._symbol, arg, aux, states)
        # MXNet 1.9.1's lines
        logging.info('Saved checkpoint to "%s"', _ckpt.file_name(prefix, epoch, "params"))
        if save_optimizer_states:
            logging.info('Saved optimizer state to "%s"', _ckpt.file_name(prefix, epoch, "states"))

    @staticmethod
    def load(prefix, epoch, load_optimizer_states=False, **kwargs):
        """A Module over a checkpoint; its parameters are applied at ``init_params``, and
        with ``load_optimizer_states`` the ``prefix-%04d.states`` file at ``init_optimizer``.
        A set with a manifest is checked first: a file that is not the one saved with the
        others raises ``CheckpointError`` naming it."""
        sym, arg, aux, states = _ckpt.load(prefix, epoch, states=load_optimizer_states)
        mod = Module(sym, **kwargs)
        mod._preloaded = (arg, aux)
        # as in MXNet, a checkpoint holding every parameter counts as initialized: bind
        # applies it (and init_params leaves it alone unless force_init)
        mod.params_initialized = (all(n in arg for n in mod._param_names)
                                  and all(n in aux for n in mod._aux_names))
        if load_optimizer_states:
            if states is None:
                raise FileNotFoundError("Module.load(load_optimizer_states=True): %s does not "
                                        "exist (saved by save_checkpoint(..., "
                                        "save_optimizer_states=True))"
                                        % _ckpt.file_name(prefix, epoch, "states"))
            mod._preloaded_states = states
        return mod


def _names(given, bound) -> list:
    """The names a batch's arrays go to: its own descriptions' when they name the bound
    inputs, else the bound order (MXNet always goes by position)."""
    bound = [d.name for d in bound]
    own = [d.name for d in given or ()]
    return own if own and set(own) <= set(bound) else bound


def _fmt_shapes(shapes: dict) -> str:
    return ", ".join("%s=%s" % (k, tuple(v)) for k, v in shapes.items())


__all__ = ["Module"]
