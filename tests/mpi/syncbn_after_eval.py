"""mpiexec -n N: Module.fit(kvstore='dist_sync') with an eval iterator of another batch size
(so the module reshapes its executor to evaluate, and back to train) keeps SyncBatchNorm
synchronized: the parameters after 3 epochs equal one process on the full batches."""
import numpy as np

import symnorm as sn


def net():
    s = sn.sym
    x = s.FullyConnected(s.Variable("data"), num_hidden=6, name="fc1")
    x = s.Activation(s.contrib.SyncBatchNorm(x, fix_gamma=False, name="bn"), act_type="tanh")
    return s.SoftmaxOutput(s.FullyConnected(x, num_hidden=3, name="fc2"), name="softmax")


rng = np.random.RandomState(2)
X = (rng.randn(32, 5) * np.arange(1, 6)).astype(np.float32)   # rank shards differ
Y = (np.arange(32) % 3).astype(np.float32)
kv = sn.kv.create("dist_sync")
B = 4
opt = {"learning_rate": 0.2, "momentum": 0.9}

sn.random.seed(3)
mod = sn.Module(net())
train = sn.io.NDArrayIter(X, Y, batch_size=B, num_parts=kv.num_workers, part_index=kv.rank)
evals = sn.io.NDArrayIter(X[:10], Y[:10], batch_size=5)       # another batch size
mod.fit(train, eval_data=evals, num_epoch=3, kvstore=kv, initializer=sn.init.Xavier(),
        optimizer_params=opt, progress=False)
assert mod._exec.collective is kv.collective, "the reshaped executor lost the communicator"

sn.random.seed(3)
ref = sn.Module(net())
ref.fit(sn.io.NDArrayIter(X, Y, batch_size=B * kv.num_workers), num_epoch=3,
        initializer=sn.init.Xavier(), optimizer_params=opt, progress=False)
got, got_aux = mod.get_params()
want, want_aux = ref.get_params()
for k in list(want) + list(want_aux):
    np.testing.assert_allclose({**got, **got_aux}[k], {**want, **want_aux}[k],
                               rtol=2e-4, atol=2e-5, err_msg=k)
print("rank %d: SyncBatchNorm synchronized after eval" % kv.rank, flush=True)
