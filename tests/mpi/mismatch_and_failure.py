"""mpiexec -n 2 ... mismatch: rank 1 builds another graph -> a clear error on every rank.
mpiexec -n 2 ... failure: rank 1 raises during fit -> the job aborts, naming the rank."""
import sys

import numpy as np

import symnorm as sn

kv = sn.kv.create("dist_sync")
hidden = 4 if (sys.argv[1] == "failure" or kv.rank == 0) else 5
net = sn.sym.SoftmaxOutput(sn.sym.FullyConnected(sn.sym.Variable("data"), num_hidden=hidden, name="fc"),
                           name="softmax")
X = np.random.RandomState(0).rand(16, 3).astype(np.float32)
Y = (np.arange(16) % 2).astype(np.float32)
mod = sn.Module(net)
it = sn.io.NDArrayIter(X, Y, batch_size=4, num_parts=2, part_index=kv.rank)


def boom(param):
    if kv.rank == 1 and param.nbatch == 1:
        raise RuntimeError("injected failure")


try:
    mod.fit(it, num_epoch=1, kvstore=kv, progress=False,
            batch_end_callback=boom if sys.argv[1] == "failure" else None)
except sn.kv.DistributedError as exc:
    print("rank %d: %s" % (kv.rank, exc), flush=True)
    sys.exit(3)
