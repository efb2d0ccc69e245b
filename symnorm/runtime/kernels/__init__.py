"""The runtime's kernels: how ops run (see ``registry``), registered per op apart from
the declarations in ``symnorm.ops``.  Importing this package registers every kernel."""
from .registry import KERNELS, Kernel, KernelContext, candidates, choose, kernel, reference  # noqa: F401
from . import conv, dense, elementwise, norm, pool  # noqa: F401,E402  (registers the kernels)
