"""Data-parallel LeNet-BN over MPI: every rank reads its shard of each batch, gradients are
summed across ranks before each update, BatchNorm statistics span the global batch
(SyncBatchNorm).  Rank 0 logs and writes the checkpoint.

    mpiexec -n 2 python examples/train_data_parallel.py [--data-dir DIR] [--epochs 3]
    mpiexec -f hosts -n 4 python examples/train_data_parallel.py ...   # across machines

(``pip install 'symnorm[distributed]'`` brings mpi4py and an MPI.)
"""
from __future__ import annotations

import os

# One BLAS thread per rank, set before numpy loads: ranks that each start a thread per core
# oversubscribe the machine and OpenBLAS's spinning threads slow every step ~100x.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import runpy  # noqa: E402

import symnorm as sn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("SYMNORM_DATA"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64, help="per rank")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--out", default="out")
    args = ap.parse_args(argv)
    demo = runpy.run_path(os.path.join(HERE, "lenet_bn.py"), run_name="lenet_bn")
    kv = sn.kv.create("dist_sync")
    logging.basicConfig(level=logging.INFO if kv.rank == 0 else logging.WARNING,
                        format="[rank %d] %%(message)s" % kv.rank, force=True)
    tx, ty, vx, vy, what = demo["load_data"](args.data_dir)
    if kv.rank == 0:
        print("data: %s; %d ranks x batch %d" % (what, kv.num_workers, args.batch_size))
    sn.random.seed(42)
    train = sn.io.NDArrayIter(tx, ty, batch_size=args.batch_size, shuffle=True,
                              last_batch_handle="discard", num_parts=kv.num_workers,
                              part_index=kv.rank)
    test = sn.io.NDArrayIter(vx, vy, batch_size=args.batch_size, num_parts=kv.num_workers,
                             part_index=kv.rank)
    mod = sn.Module(demo["lenet_bn"](sync=True))
    mod.fit(train, eval_data=test, num_epoch=args.epochs, kvstore=kv,
            initializer=sn.init.Xavier(), progress=kv.rank == 0,
            optimizer_params={"learning_rate": args.lr, "momentum": 0.9})
    acc = dict(mod.score(test, "acc"))["accuracy"]
    os.makedirs(args.out, exist_ok=True)
    mod.save_checkpoint(os.path.join(args.out, "lenet_bn_dp"), args.epochs)
    if kv.rank == 0:
        print("test accuracy over all ranks: %.4f; communication %.2fs (%.1f MB all-reduced)"
              % (acc, kv.collective.seconds, kv.collective.bytes / 1e6))
    return acc


if __name__ == "__main__":
    main()
