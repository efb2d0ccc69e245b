import numpy as np
import pytest

import symnorm as sn


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(autouse=True)
def fresh_names():
    """Every test starts with fresh auto-name counters."""
    with sn.name.NameManager():
        yield
