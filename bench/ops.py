"""Convolution forward+backward (LeNet conv1/conv2 at batch 256, a 3x3 64->64 layer on
32x64x56x56), Pooling, and LayerNorm/InstanceNorm/GroupNorm forward+backward, symnorm op
kernels against PyTorch (own process).  PyTorch's GroupNorm has per-channel gamma/beta
(MXNet 1.x's are per group); the work is the same.

    python bench/ops.py [--rounds 3] [--quick]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import TORCH_CANDIDATES, emit, find_python_with, median_time, run_child  # noqa: E402

CASES = [  # name, op, params, input shape
    ("conv1 LeNet b256", "conv", dict(kernel=(5, 5), num_filter=6), (256, 1, 28, 28)),
    ("conv2 LeNet b256", "conv", dict(kernel=(5, 5), num_filter=16), (256, 6, 12, 12)),
    ("conv 3x3 64->64", "conv", dict(kernel=(3, 3), num_filter=64, pad=(1, 1)), (32, 64, 56, 56)),
    ("avgpool 2x2/2 b256", "pool", dict(kernel=(2, 2), stride=(2, 2), pool_type="avg"), (256, 6, 24, 24)),
    ("maxpool 3x3/2 pad1", "pool", dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max"), (32, 64, 56, 56)),
    ("LayerNorm 64x128x768", "LayerNorm", {}, (64, 128, 768)),
    ("LayerNorm 4096x256", "LayerNorm", {}, (4096, 256)),
    ("InstanceNorm 32x64x56x56", "InstanceNorm", {}, (32, 64, 56, 56)),
    ("GroupNorm(4) 32x64x56x56", "GroupNorm", dict(num_groups=4), (32, 64, 56, 56)),
]


def symnorm_fn(kind, params, shape):
    import symnorm as sn
    x = sn.sym.Variable("data")
    op = {"conv": "Convolution", "pool": "Pooling"}.get(kind, kind)
    s = getattr(sn.sym, op)(x, name="c", **params)
    ex = s.simple_bind(sn.cpu(), data=shape)
    rng = np.random.RandomState(0)
    for a in ex.arg_dict.values():
        a[...] = rng.randn(*a.shape)
    dy = rng.randn(*ex.outputs[0].shape).astype(np.float32)

    def step():
        ex.forward(is_train=True)
        ex.backward(dy)
    return step


def torch_child(quick):
    import torch
    import torch.nn.functional as F
    for name, kind, p, shape in CASES[:3 if quick else None]:
        x = torch.randn(*shape, requires_grad=True)
        if kind == "conv":
            w = torch.randn(p["num_filter"], shape[1], *p["kernel"], requires_grad=True)
            b = torch.zeros(p["num_filter"], requires_grad=True)
            fn = lambda: F.conv2d(x, w, b, padding=p.get("pad", (0, 0)))  # noqa: E731
            ins = (x, w, b)
        elif kind != "pool":
            c = shape[-1] if kind == "LayerNorm" else shape[1]
            w, b = torch.ones(c, requires_grad=True), torch.zeros(c, requires_grad=True)
            fn = {"LayerNorm": lambda: F.layer_norm(x, (c,), w, b, 1e-5),
                  "InstanceNorm": lambda: F.instance_norm(x, weight=w, bias=b, eps=1e-3),
                  "GroupNorm": lambda: F.group_norm(x, p.get("num_groups", 1), w, b, 1e-5)}[kind]
            ins = (x, w, b)
        else:
            pool = F.max_pool2d if p["pool_type"] == "max" else F.avg_pool2d
            fn = lambda: pool(x, p["kernel"], p["stride"], p.get("pad", (0, 0)))  # noqa: E731
            ins = (x,)
        dy = torch.randn(*fn().shape)

        def step():
            torch.autograd.grad(fn(), ins, dy)
        emit({"name": name, "t": median_time(step, number=5, repeat=7)})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", choices=["torch"])
    args = ap.parse_args()
    if args.child:
        return torch_child(args.quick)
    torch_py = find_python_with("torch", "SYMNORM_TORCH_PYTHON", TORCH_CANDIDATES)
    if torch_py == sys.executable:
        torch_py = None
    cases = CASES[:3 if args.quick else None]
    fns = {c[0]: symnorm_fn(c[1], c[2], c[3]) for c in cases}
    res = {c[0]: {"sn": [], "torch": []} for c in cases}
    for _ in range(args.rounds):
        for name, fn in fns.items():
            res[name]["sn"].append(median_time(fn, number=5, repeat=7))
        if torch_py:
            for r in run_child(torch_py, __file__, ["--child", "torch"] + (["--quick"] if args.quick else [])):
                res[r["name"]]["torch"].append(r["t"])
    print("forward+backward through a bound executor, median of %d rounds" % args.rounds)
    for name, r in res.items():
        sn_t = statistics.median(r["sn"])
        line = "  %-22s symnorm %8.2f ms" % (name, sn_t * 1e3)
        if r["torch"]:
            t = statistics.median(r["torch"])
            line += "   PyTorch %8.2f ms   ratio %.2f" % (t * 1e3, sn_t / t)
        print(line)


if __name__ == "__main__":
    main()
