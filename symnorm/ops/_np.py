"""TRANSITIONAL re-exports while the fast paths move into runtime/kernels."""
from ..runtime.buffers import *  # noqa: F401,F403
from ..runtime.buffers import padded, recycled_empty, release_buffers, workspace, workspace_filled  # noqa: F401
from ..runtime.kernels.blas import *  # noqa: F401,F403
from ..runtime.kernels.blas import (channel_dot, channel_sum, copy_runs, elementwise, last_axis_first,  # noqa: F401
                                    matmul_nt, matmul_wide, ones, row_sums, sigmoid)
from ._util import channel_view, compute_dtype, sum_to_shape  # noqa: F401
