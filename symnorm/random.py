"""The random stream of symnorm (Dropout masks, initializers): ``seed(k)`` makes runs repeat."""
from __future__ import annotations

import numpy as np

_state = {"rng": np.random.default_rng()}


def seed(seed_state: int) -> None:
    """Reseed symnorm's generator (MXNet's ``mx.random.seed``)."""
    _state["rng"] = np.random.default_rng(seed_state)


def generator() -> np.random.Generator:
    """The generator every random draw in symnorm uses."""
    return _state["rng"]
