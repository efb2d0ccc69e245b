"""BatchNorm built from primitive symbols, as the d2l book writes it from scratch, checked
against the fused ``sym.BatchNorm`` (forward, backward, moving statistics) and timed.

    mean = E[x] over (N, H, W);  var = E[(x - mean)^2];  x̂ = (x - mean) / sqrt(var + eps)
    y = gamma · x̂ + beta;        moving = moving · momentum + batch · (1 - momentum)

    python examples/batchnorm_from_scratch.py [--shape 32,16,14,14]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import symnorm as sn

S = sn.sym
EPS, MOMENTUM = 1e-5, 0.9


def batchnorm_from_primitives(x, gamma, beta, eps=EPS):
    """Training-mode BatchNorm over axis 1 of a 4-D input, from reductions and broadcasts.
    Returns (y, batch mean, batch var); mean and var are BlockGrad-ed extra outputs that
    the training loop uses for the moving statistics."""
    mean = S.mean(x, axis=(0, 2, 3), keepdims=True)              # (1, C, 1, 1)
    centered = S.broadcast_sub(x, mean)
    var = S.mean(S.square(centered), axis=(0, 2, 3), keepdims=True)
    xhat = S.broadcast_div(centered, S.sqrt(var + eps))
    g = S.Reshape(gamma, shape=(1, -1, 1, 1))
    b = S.Reshape(beta, shape=(1, -1, 1, 1))
    y = S.broadcast_add(S.broadcast_mul(xhat, g), b)
    return S.Group([y, S.BlockGrad(S.Flatten(mean)), S.BlockGrad(S.Flatten(var))])


def compare(shape, repeat=20, seed=0):
    rng = np.random.RandomState(seed)
    c = shape[1]
    x = rng.randn(*shape).astype(np.float32) * 2 + 1
    gamma = (rng.rand(c) + 0.5).astype(np.float32)
    beta = rng.randn(c).astype(np.float32)
    dy = rng.randn(*shape).astype(np.float32)

    scratch = batchnorm_from_primitives(S.Variable("x"), S.Variable("gamma"), S.Variable("beta"))
    ex_s = scratch.simple_bind(sn.cpu(), x=shape, gamma=(c,), beta=(c,))
    ex_s.copy_params_from({"x": x, "gamma": gamma, "beta": beta})
    moving_mean, moving_var = np.zeros(c, np.float32), np.ones(c, np.float32)

    fused = S.BatchNorm(S.Variable("x"), fix_gamma=False, eps=EPS, momentum=MOMENTUM, name="bn")
    ex_f = fused.simple_bind(sn.cpu(), x=shape)
    ex_f.copy_params_from({"x": x, "bn_gamma": gamma, "bn_beta": beta},
                          {"bn_moving_mean": moving_mean, "bn_moving_var": moving_var})

    def step_scratch():
        y, mean, var = ex_s.forward(is_train=True)
        ex_s.backward([dy, np.zeros_like(mean), np.zeros_like(var)])
        return y, mean[0], var[0]

    def step_fused():
        y = ex_f.forward(is_train=True)[0]
        ex_f.backward([dy])
        return y

    y_s, mean, var = step_scratch()
    moving_mean = moving_mean * MOMENTUM + mean * (1 - MOMENTUM)
    moving_var = moving_var * MOMENTUM + var * (1 - MOMENTUM)
    y_f = step_fused()
    diffs = {"output": np.abs(y_s - y_f).max(),
             "d data": np.abs(ex_s.grad_dict["x"] - ex_f.grad_dict["x"]).max(),
             "d gamma": np.abs(ex_s.grad_dict["gamma"] - ex_f.grad_dict["bn_gamma"]).max(),
             "d beta": np.abs(ex_s.grad_dict["beta"] - ex_f.grad_dict["bn_beta"]).max(),
             "moving mean": np.abs(moving_mean - ex_f.aux_dict["bn_moving_mean"]).max(),
             "moving var": np.abs(moving_var - ex_f.aux_dict["bn_moving_var"]).max()}
    times = {}
    for name, fn in (("from primitives", step_scratch), ("sym.BatchNorm", step_fused)):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        times[name] = (time.perf_counter() - t0) / repeat
    return diffs, times, len(ex_s.plan.op_nodes)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="32,16,14,14")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    shape = tuple(int(d) for d in args.shape.split(","))
    diffs, times, n_ops = compare(shape, args.repeat)
    print("BatchNorm from %d primitive ops vs the fused op, input %s" % (n_ops, shape))
    for k, v in diffs.items():
        print("  max |difference| %-12s %.2e" % (k, v))
    for k, v in times.items():
        print("  %-16s %8.3f ms per training step (forward + backward)" % (k, v * 1e3))
    print("  the fused op is %.1fx faster: one pass of BLAS sums and two fused elementwise "
          "passes instead of %d separate ops with their temporaries" % (
              times["from primitives"] / times["sym.BatchNorm"], n_ops))
    return diffs, times


if __name__ == "__main__":
    main()
