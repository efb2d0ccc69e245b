"""mpiexec -n N: Module.fit(kvstore='dist_sync') on a LeNet-style net with SyncBatchNorm,
each rank reading its shard, ends with the parameters a single process reaches on the full
batches; only rank 0 writes the checkpoint."""
import os
import sys

import numpy as np

import symnorm as sn

prefix = sys.argv[1]


def net():
    s = sn.sym
    x = s.Convolution(s.Variable("data"), kernel=(3, 3), num_filter=4, name="conv")
    x = s.Activation(s.contrib.SyncBatchNorm(x, fix_gamma=False, name="bn1"), act_type="relu")
    x = s.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg")
    x = s.FullyConnected(s.Flatten(x), num_hidden=8, name="fc1")
    x = s.Activation(s.contrib.SyncBatchNorm(x, fix_gamma=False, name="bn2"), act_type="sigmoid")
    return s.SoftmaxOutput(s.FullyConnected(x, num_hidden=3, name="fc2"), name="softmax")


rng = np.random.RandomState(1)
X = rng.rand(48, 1, 8, 8).astype(np.float32)
Y = (np.arange(48) % 3).astype(np.float32)
kv = sn.kv.create("dist_sync")
B = 4
opt = {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}

sn.random.seed(7)
mod = sn.Module(net())
train = sn.io.NDArrayIter(X, Y, batch_size=B, num_parts=kv.num_workers, part_index=kv.rank)
mod.fit(train, num_epoch=2, kvstore=kv, initializer=sn.init.Xavier(), optimizer_params=opt,
        progress=False)
mod.save_checkpoint(prefix, 2)

sn.random.seed(7)                                   # the same start, one process, full batches
ref = sn.Module(net())
ref.fit(sn.io.NDArrayIter(X, Y, batch_size=B * kv.num_workers), num_epoch=2,
        initializer=sn.init.Xavier(), optimizer_params=opt, progress=False)
got, got_aux = mod.get_params()
want, want_aux = ref.get_params()
for k in want:
    np.testing.assert_allclose(got[k], want[k], rtol=2e-4, atol=2e-5, err_msg=k)
for k in want_aux:
    np.testing.assert_allclose(got_aux[k], want_aux[k], rtol=2e-4, atol=2e-5, err_msg=k)
kv.barrier()
assert os.path.exists("%s-0002.params" % prefix)
print("rank %d: data-parallel == single process" % kv.rank, flush=True)
