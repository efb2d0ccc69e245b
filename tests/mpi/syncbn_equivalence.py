"""mpiexec -n N: SyncBatchNorm over N ranks with batch B each equals one BatchNorm on the
N·B batch (outputs, data gradients, moving statistics over 3 steps; summed gamma/beta
gradients)."""
import numpy as np

import symnorm as sn
from symnorm.kv import create

kv = create("dist_sync")
rank, size = kv.rank, kv.num_workers
B, shape = 3, (3, 4, 5, 2)
full_shape = (B * size,) + shape[1:]
rng = np.random.RandomState(0)
xs = [rng.randn(*full_shape).astype(np.float32) * 3 + 1 for _ in range(3)]
dys = [rng.randn(*full_shape).astype(np.float32) for _ in range(3)]
gamma, beta = rng.rand(4).astype(np.float32) + 0.5, rng.randn(4).astype(np.float32)


def bound(op, batch):
    net = op(sn.sym.Variable("data"), fix_gamma=False, momentum=0.8, eps=1e-4, name="bn")
    ex = net.simple_bind(sn.cpu(), data=(batch,) + shape[1:])
    ex.copy_params_from({"bn_gamma": gamma, "bn_beta": beta},
                        {"bn_moving_mean": np.full(4, 0.5), "bn_moving_var": np.full(4, 2.0)})
    return ex


dist = bound(sn.sym.contrib.SyncBatchNorm, B)
dist.set_collective(kv.collective)
ref = bound(sn.sym.BatchNorm, B * size)
mine = slice(rank * B, (rank + 1) * B)
for step in range(3):
    y = dist.forward(is_train=True, data=xs[step][mine])[0]
    dist.backward([dys[step][mine]])
    y_ref = ref.forward(is_train=True, data=xs[step])[0]
    ref.backward([dys[step]])
    np.testing.assert_allclose(y, y_ref[mine], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dist.grad_dict["data"], ref.grad_dict["data"][mine], rtol=1e-4, atol=1e-5)
    for k in ("bn_moving_mean", "bn_moving_var"):
        np.testing.assert_allclose(dist.aux_dict[k], ref.aux_dict[k], rtol=1e-5, atol=1e-6)
    for k in ("bn_gamma", "bn_beta"):
        total = kv.collective.allreduce_sum(dist.grad_dict[k].astype(np.float64))
        np.testing.assert_allclose(total, ref.grad_dict[k], rtol=1e-4, atol=1e-4)
print("rank %d: SyncBatchNorm == BatchNorm on the global batch" % rank, flush=True)

# extreme scales: a mean far from the moving mean (the statistics' float32 sums around it
# lost every digit), nanosecond timestamps (float32 sums of squares overflow), a spread of
# 1e15 (backward's constants underflow float32); each rank's data differ
for label, make in (("mean 1e4, spread 1e-2", lambda r, s: 1e4 + r.randn(*s) * 1e-2),
                    ("timestamps", lambda r, s: 1.7e18 + r.randn(*s) * 1e13),
                    ("spread 1e15", lambda r, s: r.randn(*s) * 1e15)):
    r = np.random.RandomState(5)
    x = make(r, full_shape).astype(np.float32)
    dy = r.randn(*full_shape).astype(np.float32)
    dist = bound(sn.sym.contrib.SyncBatchNorm, B)
    dist.set_collective(kv.collective)
    ref = bound(sn.sym.BatchNorm, B * size)
    y = dist.forward(is_train=True, data=x[mine])[0]
    dist.backward([dy[mine]])
    y_ref = ref.forward(is_train=True, data=x)[0]
    ref.backward([dy])
    for got, want, what in ((y, y_ref[mine], "output"),
                            (dist.grad_dict["data"], ref.grad_dict["data"][mine], "data gradient"),
                            (dist.aux_dict["bn_moving_mean"], ref.aux_dict["bn_moving_mean"], "moving_mean"),
                            (dist.aux_dict["bn_moving_var"], ref.aux_dict["bn_moving_var"], "moving_var")):
        err = np.abs(got.astype(np.float64) - want).max() / np.abs(want).max()
        assert err < 1e-4, (label, what, err)
print("rank %d: SyncBatchNorm == BatchNorm at extreme scales" % rank, flush=True)
