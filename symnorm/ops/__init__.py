"""Importing this package registers every operator: the one place registration happens."""
from . import basic, nn, norm, loss, tensor, contrib  # noqa: F401
