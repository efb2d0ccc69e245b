"""Parallel mode (symnorm.parallel): pieces, the BLAS region, and every split kernel giving
the serial result."""
import os
import threading

import numpy as np
import pytest

import symnorm as sn
from symnorm import parallel, sym


@pytest.fixture
def split_everything(monkeypatch):
    """Two threads, and every pass and plan large enough to split."""
    before = parallel.num_threads()
    parallel.set_num_threads(2)
    monkeypatch.setattr(parallel, "MIN_ELEMS", 1)
    monkeypatch.setattr(parallel, "MIN_FLOPS", 1)
    monkeypatch.setattr(parallel, "PLAN_MIN_ELEMS", 1)
    monkeypatch.setattr(parallel, "_BLAS", parallel._BLAS or (lambda: 1, lambda n: None))
    yield
    parallel.set_num_threads(before)


def test_pieces_run_on_two_threads_in_order(split_everything):
    seen = []
    with parallel.region(True):
        parts = parallel.map_slices(lambda r: (seen.append(threading.get_ident()), r)[1], 10, 10)
    assert parts == [slice(0, 5), slice(5, 10)]
    assert len(set(seen)) == 2


def test_outside_a_region_and_inside_a_piece_nothing_splits(split_everything):
    assert parallel.map_slices(lambda r: r, 10, 10) == [slice(0, 10)]     # no region
    with parallel.region(True):
        nested = parallel.map_slices(lambda r: parallel.map_slices(lambda q: q, 4, 4), 10, 10)
    assert nested == [[slice(0, 4)], [slice(0, 4)]]                       # no split in a piece
    with parallel.region(False):
        assert parallel.map_slices(lambda r: r, 10, 10) == [slice(0, 10)]


def test_a_failing_piece_raises_after_every_piece_finished(split_everything):
    done = []

    def piece(r):
        if r.start:
            raise ValueError("piece %d" % r.start)
        done.append(r)
    with parallel.region(True), pytest.raises(ValueError, match="piece 5"):
        parallel.map_slices(piece, 10, 10)
    assert done == [slice(0, 5)]


@pytest.mark.skipif(parallel._BLAS is None, reason="numpy's BLAS is not OpenBLAS")
def test_the_region_runs_blas_on_one_thread_and_restores_it(split_everything):
    get = parallel._BLAS[0]
    before = get()
    with pytest.raises(RuntimeError):
        with parallel.region(True):
            assert get() == 1
            raise RuntimeError
    assert get() == before


@pytest.mark.skipif(parallel._BLAS is None, reason="numpy's BLAS is not OpenBLAS")
def test_blas_comes_back_when_the_last_of_several_threads_leaves(split_everything):
    get = parallel._BLAS[0]
    before = get()
    inside, leave_first = threading.Barrier(2), threading.Event()

    def first():
        with parallel.region(True):
            inside.wait()
        leave_first.set()

    t = threading.Thread(target=first)
    t.start()
    with parallel.region(True):
        inside.wait()
        leave_first.wait()                     # the other thread has left; we are still in
        assert get() == 1
    t.join()
    assert get() == before


def test_thread_count_validation():
    with pytest.raises(ValueError, match="positive"):
        parallel.set_num_threads(0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_gets_a_working_pool(split_everything):
    with parallel.region(True):
        parallel.map_slices(lambda r: r, 4, 4)              # the parent's pool exists
    pid = os.fork()
    if pid == 0:                                            # child: must not hang
        with parallel.region(True):
            ok = parallel.map_slices(lambda r: r.stop, 4, 4) == [2, 4]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


NETS = {
    "bn_nchw": (lambda d: sym.BatchNorm(d, fix_gamma=False, name="bn"), (6, 3, 5, 7)),
    "bn_short_rows": (lambda d: sym.BatchNorm(d, fix_gamma=False, name="bn"), (8, 4, 3)),
    "bn_2d": (lambda d: sym.BatchNorm(d, fix_gamma=False, name="bn"), (16, 5)),
    "conv_bn_sigmoid_pool": (lambda d: sym.Pooling(sym.Activation(sym.BatchNorm(
        sym.Convolution(d, kernel=(3, 3), num_filter=4, pad=(1, 1), name="c"), fix_gamma=False,
        name="bn"), act_type="sigmoid"), kernel=(2, 2), stride=(2, 2), pool_type="avg"), (4, 2, 6, 6)),
    "thin_conv": (lambda d: sym.Convolution(d, kernel=(3, 3), num_filter=3, name="c"), (8, 1, 30, 30)),
    "fc_tanh": (lambda d: sym.Activation(sym.FullyConnected(d, num_hidden=7, name="fc"),
                                         act_type="tanh"), (9, 11)),
}


def _train_step(net, shape, dtype):
    rng = np.random.RandomState(0)
    ex = net(sym.Variable("data")).simple_bind(sn.cpu(), type_dict={"data": dtype}, data=shape)
    for k, v in sorted(ex.arg_dict.items()):
        v[...] = rng.randn(*v.shape)
    out = ex.forward(is_train=True)[0].copy()
    ex.backward([np.asarray(rng.randn(*out.shape), out.dtype)])
    return ex, out


@pytest.mark.parametrize("name", sorted(NETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_kernels_give_the_serial_result(name, dtype, monkeypatch, split_everything):
    net, shape = NETS[name]
    monkeypatch.setattr(parallel, "PLAN_MIN_ELEMS", 1 << 40)
    serial, out_s = _train_step(net, shape, dtype)
    monkeypatch.setattr(parallel, "PLAN_MIN_ELEMS", 1)
    split, out_p = _train_step(net, shape, dtype)
    assert split._split and not serial._split
    assert out_p.dtype == dtype
    # sums split in pieces round in another order: float32 sums of ~6000 unit terms agree
    # to ~1e-4 absolute
    rtol, atol = (1e-5, 1e-4) if dtype == np.float32 else (1e-12, 1e-10)
    np.testing.assert_allclose(out_p, out_s, rtol=rtol, atol=atol)
    for k, g in serial.grad_dict.items():
        np.testing.assert_allclose(split.grad_dict[k], g, rtol=rtol, atol=atol, err_msg=k)
    for k, a in serial.aux_dict.items():
        np.testing.assert_allclose(split.aux_dict[k], a, rtol=rtol, atol=atol, err_msg=k)


def test_split_product_equals_numpy(split_everything, rng):
    a, b = rng.rand(3, 7, 5), rng.rand(3, 5, 4)
    with parallel.region(True):
        np.testing.assert_allclose(parallel.matmul(a, b), a @ b, rtol=1e-14)
        np.testing.assert_allclose(parallel.matmul(a[0], b[0][:, :3]), a[0] @ b[0][:, :3], rtol=1e-14)
        np.testing.assert_allclose(parallel.matmul(b[0].T, a[0].T), b[0].T @ a[0].T, rtol=1e-14)
        np.testing.assert_allclose(parallel.matmul(a[0], b[0][:, 0]), a[0] @ b[0][:, 0], rtol=1e-14)
