import numpy as np
import pytest

import os

import symnorm as sn

if os.environ.get("SYMNORM_TEST_SPLIT_EVERYTHING"):
    # the suite again with every plan in parallel mode and every pass split in two
    # (.ci/run does this for the graph-level tests): splits must never change a result
    sn.parallel.set_num_threads(2)
    sn.parallel.MIN_ELEMS = sn.parallel.MIN_FLOPS = sn.parallel.PLAN_MIN_ELEMS = 1
    if sn.parallel._BLAS is None:          # no OpenBLAS to steer: pretend, to split anyway
        sn.parallel._BLAS = (lambda: 1, lambda n: None)


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(autouse=True)
def fresh_names():
    """Every test starts with fresh auto-name counters."""
    with sn.name.NameManager():
        yield
