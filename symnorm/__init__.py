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
from . import ops as _ops  # noqa: F401  (registers every op first)
from . import graph, name, random, registry, sym, test_utils, viz
from . import callback, checkpoint, context, initializer, io, kv, lr_scheduler, metric, model, monitor, nd, optimizer, parallel
from . import module as mod            # mx.mod.Module
from .module import Module

init = initializer
from .attribute import AttrScope
from .checkpoint import CheckpointError
from .errors import (BindError, DTypeError, GraphError, OpError, ParamError, ShapeError,
                     SymnormError)
from .context import Context, cpu, gpu
from .executor import Executor
from .ops._np import release_buffers
from .passes import fold_batchnorm, freeze_batchnorm
from .symbol import Symbol

symbol = sym   # MXNet spells the module both ways (mx.sym / mx.symbol)
kvstore = kv   # and these too (mx.kv / mx.kvstore, mx.viz / mx.visualization)
visualization = viz
mon = monitor  # mx.mon.Monitor

__version__ = "0.1.0"

__all__ = ["sym", "symbol", "Symbol", "Executor", "Context", "context", "cpu", "gpu", "mod",
           "kvstore", "visualization", "monitor", "mon", "AttrScope", "name",
           "graph", "random", "registry", "test_utils", "viz", "Module", "init", "initializer",
           "io", "kv", "metric", "model", "checkpoint", "CheckpointError", "nd", "optimizer", "parallel", "lr_scheduler", "callback", "freeze_batchnorm", "fold_batchnorm", "release_buffers", "SymnormError", "ParamError",
           "ShapeError", "DTypeError", "GraphError", "BindError", "OpError"]


def __getattr__(attr):
    # sn.onnx (MXNet's mx.onnx) on first use: the bridge module is cheap, but importing it
    # here eagerly would tie `import symnorm` to the interop package's import order
    if attr == "onnx":
        import importlib
        return importlib.import_module(".onnx", __name__)
    raise AttributeError("module 'symnorm' has no attribute %r" % attr)
