"""Executor overhead: a chain of 200 tiny ops (100 x (y*1.0001, y+0.0)) on a 16x16 array,
forward+backward, against a plain Python loop of the same numpy calls (in process) and
PyTorch eager autograd (in its own process, when a Python with torch is found).

    python bench/executor_overhead.py [--rounds 5]

Prints medians in microseconds per op and the same-run ratios.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (TORCH_CANDIDATES, emit, find_python_with, median_time,  # noqa: E402
                     run_child)

N_PAIRS = 100
N_OPS = 2 * N_PAIRS


def symnorm_step():
    import symnorm as sn
    y = sn.sym.Variable("x")
    for _ in range(N_PAIRS):
        y = (y * 1.0001) + 0.0
    ex = y.simple_bind(sn.cpu(), x=(16, 16))
    ex.arg_dict["x"][:] = np.random.RandomState(0).randn(16, 16)
    head = np.ones((16, 16), np.float32)
    fwd = lambda: ex.forward(is_train=False)            # noqa: E731

    def step():
        ex.forward(is_train=True)
        ex.backward(head)
    return fwd, step


def numpy_step():
    x = np.random.RandomState(0).randn(16, 16).astype(np.float32)
    head = np.ones((16, 16), np.float32)
    s = np.float32(1.0001)
    z = np.float32(0.0)

    def fwd():
        y = x
        for _ in range(N_PAIRS):
            y = y * s
            y = y + z
        return y

    def step():
        fwd()
        g = head
        for _ in range(N_PAIRS):  # d(y+0)/dy passes the gradient on: no numpy call
            g = g * s
        return g
    return fwd, step


def torch_child():
    import torch
    torch.manual_seed(0)
    x = torch.randn(16, 16, requires_grad=True)
    head = torch.ones(16, 16)

    def step():
        y = x
        for _ in range(N_PAIRS):
            y = y * 1.0001 + 0.0
        y.backward(head)
    emit({"impl": "torch", "fwd_bwd": median_time(step, number=20, repeat=7) / N_OPS})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--child", choices=["torch"])
    args = ap.parse_args()
    if args.child == "torch":
        return torch_child()
    torch_py = find_python_with("torch", "SYMNORM_TORCH_PYTHON", TORCH_CANDIDATES)
    res = {"symnorm": [], "numpy": [], "symnorm_fwd": [], "numpy_fwd": [], "torch": []}
    sf, ss = symnorm_step()
    nf, ns = numpy_step()
    for _ in range(args.rounds):                        # alternating rounds
        res["symnorm"].append(median_time(ss, number=20) / N_OPS)
        res["numpy"].append(median_time(ns, number=20) / N_OPS)
        res["symnorm_fwd"].append(median_time(sf, number=20) / N_OPS)
        res["numpy_fwd"].append(median_time(nf, number=20) / N_OPS)
        if torch_py and torch_py != sys.executable:
            res["torch"].append(run_child(torch_py, __file__, ["--child", "torch"])[0]["fwd_bwd"])
    med = {k: statistics.median(v) for k, v in res.items() if v}
    print("executor overhead, %d ops on (16, 16) float32, median of %d rounds" % (N_OPS, args.rounds))
    print("  %-32s %8s %8s" % ("", "fwd", "fwd+bwd"))
    print("  %-32s %6.2f us %6.2f us" % ("symnorm executor", med["symnorm_fwd"] * 1e6, med["symnorm"] * 1e6))
    print("  %-32s %6.2f us %6.2f us" % ("plain numpy loop", med["numpy_fwd"] * 1e6, med["numpy"] * 1e6))
    print("  ratio symnorm / numpy loop: fwd %.2f, fwd+bwd %.2f (target fwd+bwd <= 1.6; <= 2.5 us/op)"
          % (med["symnorm_fwd"] / med["numpy_fwd"], med["symnorm"] / med["numpy"]))
    if "torch" in med:
        print("  PyTorch eager autograd (own process): %.2f us/op fwd+bwd; symnorm / torch = %.2f"
              % (med["torch"] * 1e6, med["symnorm"] / med["torch"]))
    else:
        print("  PyTorch: not found (set SYMNORM_TORCH_PYTHON to a Python with torch)")


if __name__ == "__main__":
    main()
