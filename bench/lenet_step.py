"""One LeNet-BN training step (forward, backward, SGD update) through ``Module`` at batch
128 and 256, against the same network in PyTorch eager (own process, when found), plus the
peak RSS of a process that runs symnorm steps at batch 256.

    python bench/lenet_step.py [--rounds 15]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import TORCH_CANDIDATES, Server, emit, find_python_with, median_time, serve  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCHES = (128, 256)


def symnorm_step(batch):
    import runpy
    import symnorm as sn
    sn.runtime.allocator.keep_freed_memory()    # opt-in malloc tuning: fewer page faults per step
    net = runpy.run_path(os.path.join(ROOT, "examples", "lenet_bn.py"), run_name="x")["lenet_bn"]()
    rng = np.random.RandomState(0)
    x = rng.rand(batch, 1, 28, 28).astype(np.float32)
    y = rng.randint(0, 10, batch).astype(np.float32)
    mod = sn.Module(net)
    it = sn.io.NDArrayIter(x, y, batch_size=batch)
    mod.bind(it.provide_data, it.provide_label)
    sn.random.seed(0)
    mod.init_params(sn.init.Xavier())
    mod.init_optimizer(optimizer_params={"learning_rate": 0.05, "momentum": 0.9})
    data = next(iter(it))

    def step():
        mod.forward_backward(data)
        mod.update()
    return step


def torch_child():
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    fns = {}
    for batch in BATCHES:
        net = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
            nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        x = torch.rand(batch, 1, 28, 28)
        y = torch.randint(0, 10, (batch,))
        loss_fn = nn.CrossEntropyLoss()

        def step(net=net, opt=opt, x=x, y=y, loss_fn=loss_fn):
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
        fns[str(batch)] = step
    serve(fns)


def rss_child(batch, steps):
    step = symnorm_step(batch)
    for _ in range(steps):
        step()
    emit({"peak_rss_mib": peak_rss_mib()})


def peak_rss_mib():
    """This process's peak resident set.  VmHWM (Linux) starts at the exec; ru_maxrss
    would also count the parent's pages the child held between fork and exec (with the
    benchmark parent holding ~150 MiB of executors, that dominated the reading)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--child", choices=["torch", "rss"])
    args = ap.parse_args()
    if args.child == "torch":
        return torch_child()
    if args.child == "rss":
        return rss_child(256, 20)
    torch_py = find_python_with("torch", "SYMNORM_TORCH_PYTHON", TORCH_CANDIDATES)
    if torch_py == sys.executable:
        torch_py = None
    steps = {b: symnorm_step(b) for b in BATCHES}
    torch = Server(torch_py, __file__, ["--child", "torch"], pause=0.3) if torch_py else None
    res = {b: {"sn": [], "torch": [], "ratio": []} for b in BATCHES}
    for _ in range(args.rounds):
        for b in BATCHES:                 # each of torch's timings right after ours
            t_sn = median_time(steps[b], number=10, repeat=3, warmup=1)
            res[b]["sn"].append(t_sn)
            if torch:
                t_torch = torch.time(str(b))
                res[b]["torch"].append(t_torch)
                res[b]["ratio"].append(t_sn / t_torch)
    if torch:
        torch.close()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, __file__, "--child", "rss"], capture_output=True, text=True, env=env)
    rss = [float(l.split('"peak_rss_mib": ')[1].rstrip("}")) for l in out.stdout.splitlines() if "peak_rss" in l]
    print("LeNet-BN training step (Module: forward + backward + SGD momentum), %d paired rounds"
          % args.rounds)
    for b in BATCHES:
        sn_t = statistics.median(res[b]["sn"])
        line = "  batch %d: symnorm %.2f ms" % (b, sn_t * 1e3)
        if res[b]["torch"]:
            r = sorted(res[b]["ratio"])
            line += (", PyTorch eager %.2f ms, ratio %.2f (median of rounds; range %.2f-%.2f; "
                     "target <= 0.8)" % (statistics.median(res[b]["torch"]) * 1e3,
                                         statistics.median(r), r[0], r[-1]))
        print(line)
    if rss:
        print("  peak RSS of a process running batch-256 steps: %.0f MiB (target <= 150)" % rss[0])


if __name__ == "__main__":
    main()
