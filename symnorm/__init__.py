"""symnorm: a small symbolic deep-learning engine on numpy, with MXNet 1.x's symbol API.

>>> import numpy as np, symnorm as sn
>>> data = sn.sym.Variable('data')
>>> net = sn.sym.BatchNorm(data, fix_gamma=False, name='bn')
>>> ex = net.simple_bind(sn.cpu(), data=(8, 3))
>>> ex.arg_dict['bn_gamma'][:] = 1
>>> out = ex.forward(is_train=True, data=np.random.randn(8, 3))
>>> ex.backward(out_grads=[np.ones((8, 3))])
>>> ex.aux_dict['bn_moving_var'].shape
(3,)
"""
import importlib as _importlib
import sys as _sys

from . import ops as _ops  # noqa: F401  (registers every op first)

# The modules lived flat in symnorm/ before the layered layout (core, runtime, train,
# interop); their old import paths (``from symnorm.io import DataBatch``, as MXNet
# scripts write ``from mxnet.io import ...``) keep working.
for _pkg, _names in (("core", "attribute dims dtype errors fileio graph ir name params registry "
                              "serialize shape sym symbol"),
                     ("runtime", "allocator autodiff exec_options executor parallel"),
                     ("train", "callback initializer io kv lr_scheduler metric module monitor "
                               "optimizer transaction"),
                     ("interop", "checkpoint idx model")):
    for _name in _names.split():
        _module = _importlib.import_module(".%s.%s" % (_pkg, _name), __name__)
        _sys.modules.setdefault("%s.%s" % (__name__, _name), _module)
        if _name not in globals():
            globals()[_name] = _module
# the batch-last pass became a kernel choice (runtime/kernels/batch_last.py)
_sys.modules.setdefault(__name__ + ".layout", _importlib.import_module(".runtime.kernels.batch_last", __name__))
layout = _sys.modules[__name__ + ".layout"]

from . import context, operator, random, test_utils, viz
from .core import graph, name, registry, sym
from .core.attribute import AttrScope
from .core.errors import (BindError, DTypeError, GraphError, MissingParamError, OpError, ParamError, ShapeError,
                          ShapeTypeError, SymnormError)
from .passes import fold_batchnorm, freeze_batchnorm
from .core.symbol import Symbol
from .core.ndarray import NDArray
from .context import Context, cpu, gpu, current_context
from . import base, util
from .util import is_np_shape, np_shape, set_np_shape, use_np_shape
from .base import MXNetError
from .interop import checkpoint, model
from . import ndarray
from .interop.checkpoint import CheckpointError
from .runtime.buffers import release_buffers
from .runtime import parallel
from .runtime.executor import Executor
from .train import callback, initializer, io, kv, lr_scheduler, metric, monitor, optimizer
from .train import module as mod  # mx.mod.Module
from .train.module import Module

init = initializer

# mx.nd is MXNet's short name of mx.ndarray (NDArray, creation, one function per op, save/load)
nd = ndarray
_sys.modules.setdefault(__name__ + ".nd", ndarray)
# and mx.random.uniform/normal/randint/shuffle are mx.nd.random's (random.py sits below nd)
for _name in ndarray.random.__all__:
    setattr(random, _name, getattr(ndarray.random, _name))

symbol = sym   # MXNet spells the module both ways (mx.sym / mx.symbol)
kvstore = kv   # and these too (mx.kv / mx.kvstore, mx.viz / mx.visualization)
visualization = viz
mon = monitor  # mx.mon.Monitor

__version__ = "0.1.0"

__all__ = ["sym", "symbol", "Symbol", "Executor", "Context", "context", "cpu", "gpu", "mod",
           "kvstore", "visualization", "base", "MXNetError", "current_context", "util", "np_shape", "is_np_shape",
           "set_np_shape", "use_np_shape", "monitor", "mon", "AttrScope", "name",
           "graph", "operator", "random", "registry", "test_utils", "viz", "Module", "init", "initializer",
           "io", "kv", "metric", "model", "checkpoint", "CheckpointError", "nd", "ndarray", "NDArray", "optimizer", "parallel", "lr_scheduler", "callback", "freeze_batchnorm", "fold_batchnorm", "release_buffers", "SymnormError", "ParamError",
           "ShapeError", "DTypeError", "GraphError", "BindError", "OpError"]


def __getattr__(attr):
    # sn.onnx (MXNet's mx.onnx) on first use: the bridge module is cheap, but importing it
    # here eagerly would tie `import symnorm` to the interop package's import order
    if attr == "onnx":
        import importlib
        return importlib.import_module(".onnx", __name__)
    raise AttributeError("module 'symnorm' has no attribute %r" % attr)
