"""The aux commit point: a node whose proposed aux values are not finite commits none of them
(for every op that proposes aux updates), logs a warning naming it; nan_check raises."""
import logging

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym
from symnorm.registry import REGISTRY

from harness import build

AUX_OPS = sorted(name for name, cls in REGISTRY.items() if cls.aux)


def test_some_ops_propose_aux():
    assert "BatchNorm" in AUX_OPS and "_contrib_SyncBatchNorm" in AUX_OPS


@pytest.mark.parametrize("name", AUX_OPS)
@pytest.mark.parametrize("aux_update", ["backward", "forward"])
def test_a_nan_batch_leaves_the_aux_states_unchanged(name, aux_update, rng, caplog):
    params, shapes = next(iter(REGISTRY[name].examples()))
    net = build(name, params, shapes)
    ex = net.simple_bind(sn.cpu(), aux_update=aux_update, **shapes)
    for k, a in ex.aux_dict.items():
        a[...] = rng.uniform(0.5, 1.5, a.shape)
    before = {k: a.copy() for k, a in ex.aux_dict.items()}
    bad = rng.randn(*ex.arg_dict["data"].shape)
    bad.flat[0] = np.nan
    with caplog.at_level(logging.WARNING, logger="symnorm"):
        ex.forward(is_train=True, data=bad)
        ex.backward([np.ones_like(o) for o in ex.outputs])
    for k, a in ex.aux_dict.items():
        np.testing.assert_array_equal(a, before[k], err_msg=k)
    msgs = [r.getMessage() for r in caplog.records if r.name == "symnorm"]
    assert len(msgs) == 1 and "'node'" in msgs[0] and REGISTRY[name].op_name in msgs[0] \
        and "not finite" in msgs[0], msgs
    # not poisoned: the next clean batch updates as usual
    ex.forward(is_train=True, data=rng.randn(*bad.shape))
    ex.backward([np.ones_like(o) for o in ex.outputs])
    for k, a in ex.aux_dict.items():
        assert np.isfinite(a).all() and not np.array_equal(a, before[k]), k


def test_the_rule_is_per_node(rng, caplog):
    a = sym.BatchNorm(sym.Variable("a"), name="bn_a")
    b = sym.BatchNorm(sym.Variable("b"), name="bn_b")
    ex = sym.Group([a, b]).simple_bind(sn.cpu(), a=(4, 3), b=(4, 3))
    xa = rng.randn(4, 3)
    xa[2, 1] = np.inf
    with caplog.at_level(logging.WARNING, logger="symnorm"):
        ex.forward(is_train=True, a=xa, b=rng.randn(4, 3))
        ex.backward([np.ones((4, 3))] * 2)
    assert not ex.aux_dict["bn_a_moving_mean"].any() and not ex.aux_dict["bn_a_moving_var"].any()
    assert ex.aux_dict["bn_b_moving_mean"].any() and ex.aux_dict["bn_b_moving_var"].any()
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["BatchNorm 'bn_a'"]


def test_one_non_finite_aux_keeps_all_of_the_node_unchanged(rng, caplog):
    # a variance of ~1e60 overflows float32 only in the proposed moving_var; the finite
    # moving_mean proposal of the same node is not committed either
    ex = sym.BatchNorm(sym.Variable("data"), name="bn").simple_bind(sn.cpu(), data=(4, 3))
    with caplog.at_level(logging.WARNING, logger="symnorm"):
        ex.forward(is_train=True, data=rng.randn(4, 3) * 1e30)
        ex.backward(np.ones((4, 3)))
    assert not ex.aux_dict["bn_moving_mean"].any() and not ex.aux_dict["bn_moving_var"].any()
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 1 and "new moving_var" in msgs[0], msgs


def test_nan_check_raises_on_a_non_finite_proposal(rng):
    # a batch variance of ~1e60 does not fit float32: the outputs are finite, only the
    # proposed moving_var is not
    ex = sym.BatchNorm(sym.Variable("data"), name="bn").simple_bind(sn.cpu(), data=(4, 3))
    ex.nan_check = True
    with pytest.raises(FloatingPointError, match="nan_check: BatchNorm 'bn' proposed a non-finite 'moving_var'"):
        ex.forward(is_train=True, data=rng.randn(4, 3) * 1e30)
    assert not ex.aux_dict["bn_moving_mean"].any() and not ex.aux_dict["bn_moving_var"].any()


def test_the_commit_finiteness_test_takes_any_proposal():
    # one summed dot per node when each proposal matches its zero vector; anything else
    # (another rank or size, no zero vector, a scalar) is tested value by value
    from symnorm.runtime.interpret import all_finite_each
    z = np.zeros(3, np.float32)
    ok, bad = np.ones(3, np.float32), np.array([1, np.nan, 2], np.float32)
    assert all_finite_each([ok, ok], [z, z]) and not all_finite_each([ok, bad], [z, z])
    assert not all_finite_each([ok, np.array([np.inf, -np.inf, 0], np.float32)], [z, z])
    assert all_finite_each([np.ones((3, 1), np.float32)], [z]) and all_finite_each([np.ones((2, 3))], [z])
    assert not all_finite_each([np.full((2, 3), np.inf, np.float32)], [z])
    assert all_finite_each([np.ones(4)], [z]) and all_finite_each([1.0], [None])
    assert not all_finite_each([np.float32(np.inf)], [z])
