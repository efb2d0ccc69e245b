"""Importing this package registers every operator: the one place registration happens.

One module per family: elemwise, scalar and unary math (more of it, with prod/nansum/
nanprod and softmin, in math); reduce, tensor (shape and axes) and creation; dense
(FullyConnected, Embedding, dot); conv and pool (sharing spatial); activation, dropout, norm
(BatchNorm's family), normalize (norm, L2Normalization, LRN, SoftmaxActivation), loss,
contrib, sequence (SequenceMask/Last/Reverse) and resize (UpSampling, BilinearResize2D,
AdaptiveAvgPooling2D, depth_to_space, space_to_depth); indexing (where, pick, take, one_hot,
argmax) and ordering (topk, sort); shaping (tile, repeat, slice, flip, stack), reshaping
(reshape_like, broadcast_to/like, Pad), copies (Cast, add_n, make_loss, zeros_like) and
shape_info (shape_array, size_array, broadcast_axis, _identity_with_attr_like_rhs).
"""
from . import (elemwise, scalar, unary, tensor, dense, conv, pool, activation, dropout,  # noqa: F401
               norm, loss, reduce, creation, contrib, math, normalize, sequence, resize,
               indexing, ordering, shaping, reshaping, copies, custom, shape_info)
from . import fluent  # noqa: F401,E402  (Symbol's fluent methods, once the ops exist)
