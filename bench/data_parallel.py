"""Data-parallel LeNet-BN (SyncBatchNorm) throughput with 1 and 2 MPI ranks on this
machine, one BLAS thread per rank, and the share of time spent in all-reduces.

    python bench/data_parallel.py [--steps 30] [--batch 128]

The per-rank batch is fixed, so 2 ranks process twice the images per step."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(steps, batch):
    import runpy

    import numpy as np

    import symnorm as sn
    kv = sn.kv.create("dist_sync")
    net = runpy.run_path(os.path.join(ROOT, "examples", "lenet_bn.py"), run_name="x")["lenet_bn"](sync=True)
    rng = np.random.RandomState(kv.rank)
    x = rng.rand(batch, 1, 28, 28).astype(np.float32)
    y = rng.randint(0, 10, batch).astype(np.float32)
    it = sn.io.NDArrayIter(x, y, batch_size=batch)
    mod = sn.Module(net)
    mod.bind(it.provide_data, it.provide_label)
    sn.random.seed(0)
    mod.init_params(sn.init.Xavier())
    mod.init_optimizer(kvstore=kv, optimizer_params={"learning_rate": 0.05, "momentum": 0.9})
    data = next(iter(it))
    for _ in range(3):
        mod.forward_backward(data)
        mod.update()
    kv.barrier()
    c0, b0 = kv.collective.seconds, kv.collective.bytes
    t0 = time.perf_counter()
    for _ in range(steps):
        mod.forward_backward(data)
        mod.update()
    kv.barrier()
    wall = time.perf_counter() - t0
    if kv.rank == 0:
        print("RESULT " + json.dumps({"ranks": kv.num_workers, "wall": wall, "comm": kv.collective.seconds - c0,
                                      "bytes_per_step": (kv.collective.bytes - b0) / steps,
                                      "images_per_s": steps * batch * kv.num_workers / wall}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        return child(args.steps, args.batch)
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if mpiexec is None:
        sys.exit("needs mpiexec: pip install 'symnorm[distributed]'")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print("LeNet-BN (SyncBatchNorm), batch %d per rank, %d timed steps, 1 BLAS thread per rank"
          % (args.batch, args.steps))
    base = None
    for n in (1, 2):
        out = subprocess.run([mpiexec, "-n", str(n), sys.executable, __file__, "--child",
                              "--steps", str(args.steps), "--batch", str(args.batch)],
                             capture_output=True, text=True, env=env, timeout=600)
        rec = [json.loads(l[7:]) for l in out.stdout.splitlines() if l.startswith("RESULT ")]
        if not rec:
            sys.exit(out.stderr[-2000:])
        r = rec[0]
        base = base or r["images_per_s"]
        print("  %d rank(s): %7.0f images/s (x%.2f), all-reduce %.1f%% of the time, %.2f MB per step"
              % (n, r["images_per_s"], r["images_per_s"] / base, 100 * r["comm"] / r["wall"],
                 r["bytes_per_step"] / 1e6))


if __name__ == "__main__":
    main()
