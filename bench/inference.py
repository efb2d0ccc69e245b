"""Inference latency of ResNet-18 and MobileNet v2 (224x224) at batch 1 and 8: symnorm on
the Gluon model-zoo JSON, against MXNet 1.9.1 (own process, if a Python with mxnet is found:
$SYMNORM_MXNET_PYTHON or ~/.cache/mxenv) and PyTorch (own process, ResNet-18 written out
here since torchvision has no CPU wheel on this machine).

    python bench/inference.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from _common import (MXNET_CANDIDATES, TORCH_CANDIDATES, emit, find_python_with,  # noqa: E402
                     median_time, run_child)

MODELS = ("resnet18_v1", "mobilenetv2_1.0")
BATCHES = (1, 8)


def symnorm_fn(name, batch):
    import symnorm as sn
    from modelzoo_common import params_for
    sn.runtime.allocator.keep_freed_memory()    # opt-in malloc tuning: MobileNet v2 ~10% faster
    path = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "modelzoo", name + "-symbol.json.gz")
    with gzip.open(path, "rt") as f:
        sym = sn.sym.load_json(f.read())
    shape = (batch, 3, 224, 224)
    a, _, x_ = sym.infer_shape(data=shape)
    arg, aux = params_for(sym.list_arguments(), a, sym.list_auxiliary_states(), x_)
    ex = sym.simple_bind(sn.cpu(), grad_req="null", data=shape)
    ex.copy_params_from(arg, aux)
    x = np.random.RandomState(0).rand(*shape).astype(np.float32)
    return lambda: ex.forward(is_train=False, data=x)


def mx_child():
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision
    for name in MODELS:
        net = vision.get_model(name, pretrained=False)
        net.initialize()
        net.hybridize(static_alloc=True, static_shape=True)
        for b in BATCHES:
            x = mx.nd.random.uniform(shape=(b, 3, 224, 224))
            fn = lambda: net(x).wait_to_read()   # noqa: E731
            emit({"model": name, "batch": b, "t": median_time(fn, number=3, repeat=5)})


def torch_child():
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                                      nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            self.down = None if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            return torch.relu(self.body(x) + (x if self.down is None else self.down(x)))

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)).eval()
    with torch.no_grad():
        for b in BATCHES:
            x = torch.rand(b, 3, 224, 224)
            emit({"model": "resnet18_v1", "batch": b, "t": median_time(lambda: net(x), number=3, repeat=5)})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", choices=["mx", "torch"])
    args = ap.parse_args()
    if args.child == "mx":
        return mx_child()
    if args.child == "torch":
        return torch_child()
    others = {"MXNet": find_python_with("mxnet", "SYMNORM_MXNET_PYTHON", MXNET_CANDIDATES),
              "PyTorch": find_python_with("torch", "SYMNORM_TORCH_PYTHON", TORCH_CANDIDATES)}
    others = {k: v for k, v in others.items() if v and v != sys.executable}
    fns = {(m, b): symnorm_fn(m, b) for m in MODELS for b in BATCHES}
    res = {key: {"symnorm": []} for key in fns}
    env_child = {"MXNet": "mx", "PyTorch": "torch"}
    for _ in range(args.rounds):
        for key, fn in fns.items():
            res[key]["symnorm"].append(median_time(fn, number=3, repeat=5))
        for label, py in others.items():
            os.environ.setdefault("MXNET_STORAGE_FALLBACK_LOG_VERBOSE", "0")
            for r in run_child(py, __file__, ["--child", env_child[label]]):
                res[(r["model"], r["batch"])].setdefault(label, []).append(r["t"])
    print("inference latency (224x224, float32), median of %d rounds" % args.rounds)
    for (m, b), r in res.items():
        med = {k: statistics.median(v) for k, v in r.items()}
        fastest = min((v for k, v in med.items() if k != "symnorm"), default=None)
        line = "  %-16s batch %d: symnorm %7.1f ms" % (m, b, med["symnorm"] * 1e3)
        for k in ("MXNet", "PyTorch"):
            if k in med:
                line += "   %s %7.1f ms" % (k, med[k] * 1e3)
        if fastest:
            line += "   ratio to fastest %.2f" % (med["symnorm"] / fastest)
        print(line)


if __name__ == "__main__":
    main()
