"""mpiexec -n 2 ... MODE: rank 1 leaves Module.fit early; the whole job must end, not hang.
MODE: systemexit (sys.exit in a callback), interrupt (SIGINT to rank 1), unequal (rank 1
has fewer batches than rank 0), initfail (rank 1's init_params fails: missing arg_params)."""
import os
import signal
import sys

import numpy as np

import symnorm as sn

mode = sys.argv[1]
kv = sn.kv.create("dist_sync")
net = sn.sym.SoftmaxOutput(sn.sym.FullyConnected(sn.sym.Variable("data"), num_hidden=2, name="fc"),
                           name="softmax")
n = 12 if (mode == "unequal" and kv.rank == 1) else 16      # 3 batches against 4
X = np.random.RandomState(kv.rank).rand(n, 3).astype(np.float32)
Y = (np.arange(n) % 2).astype(np.float32)
it = sn.io.NDArrayIter(X, Y, batch_size=4)


def leave(param):
    if kv.rank == 1 and param.nbatch == 1:
        if mode == "systemexit":
            sys.exit(0)
        if mode == "interrupt":
            os.kill(os.getpid(), signal.SIGINT)


params = {"arg_params": {}} if (mode == "initfail" and kv.rank == 1) else {}
try:
    sn.Module(net).fit(it, num_epoch=2, kvstore=kv, progress=False, batch_end_callback=leave, **params)
except sn.kv.DistributedError as exc:
    print("rank %d: %s" % (kv.rank, exc), flush=True)
    sys.exit(3)
print("rank %d finished fit" % kv.rank, flush=True)
