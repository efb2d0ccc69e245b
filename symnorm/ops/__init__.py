"""Importing this package registers every operator: the one place registration happens.

One module per family: elemwise, scalar and unary math; reduce, tensor (shape and axes) and
creation; dense (FullyConnected, Embedding, dot); conv and pool (sharing spatial);
activation, dropout, norm, loss and contrib.
"""
from . import (elemwise, scalar, unary, tensor, dense, conv, pool, activation, dropout,  # noqa: F401
               norm, loss, reduce, creation, contrib, custom)
from . import fluent  # noqa: F401,E402  (Symbol's fluent methods, once the ops exist)
