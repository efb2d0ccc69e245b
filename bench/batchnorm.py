"""BatchNorm training forward and forward+backward (with the moving-average update) through
a bound symnorm executor, against (a) the straightforward numpy formula in this process and
(b) PyTorch's F.batch_norm with autograd in its own process (when a Python with torch is
found: $SYMNORM_TORCH_PYTHON, this interpreter, or ~/.cache/torchenv).

    python bench/batchnorm.py [--rounds 5] [--shapes 32x64x56x56,256x120]

Prints medians, same-run ratios, and the effective bandwidth of forward+backward as a share
of this machine's streaming limit, measured in the same run (the faster of a one-thread
memcpy and a two-thread ``np.add`` over 256 MiB arrays; f+b moves at least 5 tensor sizes).

The "kernels" columns time symnorm's BatchNorm kernels alone (the four per-channel sums and
the two elementwise passes of forward+backward on warm, preallocated buffers, no executor
and no per-call Python): a floor for this numpy design, and what is left above it is the
cost of running them as an op in a graph.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import TORCH_CANDIDATES, Server, find_python_with, median_time, serve  # noqa: E402

SHAPES = [(32, 64, 56, 56), (128, 16, 14, 14), (64, 256, 7, 7), (256, 120)]


def stream_limit(mib=256):
    """Bytes/s of the best streaming op here (STREAM convention: bytes read + written):
    memcpy on one thread, or np.add split over two threads (numpy releases the GIL)."""
    import threading
    n = mib * (1 << 20) // 4
    a, b, c = (np.ones(n, np.float32) for _ in range(3))
    copy = median_time(lambda: np.copyto(c, a), 3)

    def add_two():
        h = n // 2
        t = threading.Thread(target=np.add, args=(a[h:], b[h:]), kwargs={"out": c[h:]})
        t.start()
        np.add(a[:h], b[:h], out=c[:h])
        t.join()
    add = median_time(add_two, 3)
    return max(2 * 4 * n / copy, 3 * 4 * n / add)


def _number(shape):
    n = int(np.prod(shape))
    return max(3, min(200, int(2e7 / n)))


def symnorm_fns(shape):
    import symnorm as sn
    net = sn.sym.BatchNorm(sn.sym.Variable("data"), fix_gamma=False, name="bn")
    ex = net.simple_bind(sn.cpu(), data=shape)
    rng = np.random.RandomState(0)
    ex.arg_dict["data"][:] = rng.randn(*shape)
    ex.arg_dict["bn_gamma"][:] = 1
    dy = rng.randn(*shape).astype(np.float32)

    def fwd():
        ex.forward(is_train=True)

    def fwd_bwd():
        ex.forward(is_train=True)
        ex.backward(dy)
    return fwd, fwd_bwd


def kernel_fns(shape):
    """forward+backward as the bare kernel calls BatchNorm makes (see the module docstring),
    in parallel mode when the executor would use it for this shape."""
    from symnorm import parallel
    from symnorm.runtime.kernels import blas as _np
    from symnorm.runtime.kernels import bn_passes as K
    rng = np.random.RandomState(0)
    pre, c, post = shape[0], shape[1], int(np.prod(shape[2:]))
    x3 = rng.randn(pre, c, post).astype(np.float32)
    dy3 = rng.randn(pre, c, post).astype(np.float32)
    x2, per = K.plane(x3)
    dy2, _ = K.plane(dy3)
    a, b, k = (per(rng.rand(c).astype(np.float32)) for _ in range(3))
    y, dx = np.empty_like(x2), np.empty_like(x2)

    split = parallel.worth_splitting(x3.size)

    def fwd_bwd():
        with parallel.region(split):
            _np.channel_sum(x3), _np.channel_dot(x3, x3)
            K.affine(x2, a, b, y)
        with parallel.region(split):
            _np.channel_sum(dy3), _np.channel_dot(dy3, x3)
            K.axpby_plus(dy2, a, x2, b, k, dx)
    return fwd_bwd


def naive_fns(shape):
    """The d2l from-scratch formula, with the textbook backward."""
    rng = np.random.RandomState(0)
    x = rng.randn(*shape).astype(np.float32)
    dy = rng.randn(*shape).astype(np.float32)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    keep = (1, -1) if len(shape) == 2 else (1, -1, 1, 1)
    gamma = np.ones(shape[1], np.float32).reshape(keep)
    beta = np.zeros(shape[1], np.float32).reshape(keep)
    mm = np.zeros(shape[1], np.float32).reshape(keep)
    mv = np.ones(shape[1], np.float32).reshape(keep)
    eps, mom = 1e-3, 0.9

    def forward():
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        xhat = (x - mean) / np.sqrt(var + eps)
        y = gamma * xhat + beta
        new_mm = mom * mm + (1 - mom) * mean
        new_mv = mom * mv + (1 - mom) * var
        return y, xhat, var, new_mm, new_mv

    def fwd_bwd():
        y, xhat, var, _, _ = forward()
        m = x.size / x.shape[1]
        dbeta = dy.sum(axis=axes, keepdims=True)
        dgamma = (dy * xhat).sum(axis=axes, keepdims=True)
        dxhat = dy * gamma
        dx = (1.0 / m) / np.sqrt(var + eps) * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                                               - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))
        return dx, dgamma, dbeta
    return forward, fwd_bwd


def torch_child(shapes):
    import torch
    import torch.nn.functional as F
    fns, numbers = {}, {}
    for shape in shapes:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(*shape, generator=g, requires_grad=True)
        w = torch.ones(shape[1], requires_grad=True)
        b = torch.zeros(shape[1], requires_grad=True)
        rm, rv = torch.zeros(shape[1]), torch.ones(shape[1])
        dy = torch.randn(*shape, generator=g)

        def fwd(x=x, w=w, b=b, rm=rm, rv=rv):
            with torch.no_grad():
                F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-3)

        def fwd_bwd(x=x, w=w, b=b, rm=rm, rv=rv, dy=dy):
            y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-3)
            torch.autograd.grad(y, (x, w, b), dy)
        key = "x".join(map(str, shape))
        fns[key + "/f"], fns[key + "/fb"] = fwd, fwd_bwd
        numbers[key + "/f"] = numbers[key + "/fb"] = _number(shape)
    serve(fns, number=numbers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--shapes", default=",".join("x".join(map(str, s)) for s in SHAPES))
    ap.add_argument("--child", choices=["torch"])
    args = ap.parse_args()
    shapes = [tuple(int(d) for d in s.split("x")) for s in args.shapes.split(",")]
    if args.child == "torch":
        return torch_child(shapes)
    torch_py = find_python_with("torch", "SYMNORM_TORCH_PYTHON", TORCH_CANDIDATES)
    if torch_py == sys.executable:
        torch_py = None         # never time torch inside this process
    keys = ("sn_f", "sn_fb", "np_f", "np_fb", "t_f", "t_fb", "r_f", "r_fb", "k_fb", "rk_fb")
    rec = {s: {k: [] for k in keys} for s in shapes}
    fns = {s: (symnorm_fns(s), naive_fns(s), kernel_fns(s)) for s in shapes}
    torch = Server(torch_py, __file__, ["--child", "torch", "--shapes", args.shapes]) if torch_py else None
    for _ in range(args.rounds):
        for s in shapes:
            (sf, sfb), (nf, nfb), kfb = fns[s]
            n = _number(s)
            rec[s]["np_f"].append(median_time(nf, n))
            rec[s]["np_fb"].append(median_time(nfb, n))
            rec[s]["k_fb"].append(median_time(kfb, n))
            for kind, fn in (("f", sf), ("fb", sfb)):       # torch timed right after ours
                t_sn = median_time(fn, n)
                rec[s]["sn_" + kind].append(t_sn)
                if torch:
                    t_torch = torch.time("x".join(map(str, s)) + "/" + kind)
                    rec[s]["t_" + kind].append(t_torch)
                    rec[s]["r_" + kind].append(t_sn / t_torch)
                    if kind == "fb":
                        rec[s]["rk_fb"].append(rec[s]["k_fb"][-1] / t_torch)
    if torch:
        torch.close()
    limit = stream_limit()
    print("BatchNorm training, float32, median of %d rounds, PyTorch paired with each of "
          "ours%s" % (args.rounds, "" if torch_py else " (PyTorch not found)"))
    print("%-18s %10s %10s | %10s %10s | %10s %10s | %7s %7s %7s %7s | %10s %7s | %s"
          % ("shape", "sn fwd", "sn f+b", "numpy fwd", "numpy f+b", "torch fwd", "torch f+b",
             "/np f", "/np f+b", "/t f", "/t f+b", "kernels", "k/t", "f+b GB/s (of %.0f)" % (limit / 1e9)))
    for s in shapes:
        m = {k: statistics.median(v) if v else float("nan") for k, v in rec[s].items()}
        nbytes = 5 * int(np.prod(s)) * 4
        print("%-18s %8.3fms %8.3fms | %8.3fms %8.3fms | %8.3fms %8.3fms | %7.2f %7.2f %7.2f %7.2f | %8.3fms %7.2f | %.1f (%d%%)"
              % ("x".join(map(str, s)), m["sn_f"] * 1e3, m["sn_fb"] * 1e3, m["np_f"] * 1e3,
                 m["np_fb"] * 1e3, m["t_f"] * 1e3, m["t_fb"] * 1e3, m["sn_f"] / m["np_f"],
                 m["sn_fb"] / m["np_fb"], m["r_f"], m["r_fb"], m["k_fb"] * 1e3, m["rk_fb"],
                 nbytes / m["sn_fb"] / 1e9, 100 * nbytes / m["sn_fb"] / limit))
    if torch_py:
        print("/t and k/t columns: median of the per-round ratios; f+b ranges: " + ", ".join(
            "%s %.2f-%.2f" % ("x".join(map(str, s)), min(rec[s]["r_fb"]), max(rec[s]["r_fb"]))
            for s in shapes))


if __name__ == "__main__":
    main()
