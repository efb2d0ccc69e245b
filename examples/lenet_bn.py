"""LeNet with BatchNorm (the d2l book's network), built symbolically and trained with the
executor: forward, backward, SGD with momentum, BatchNorm statistics written back each step.

    python examples/lenet_bn.py                  # embedded data: scikit-learn's 8x8 digits
    python examples/lenet_bn.py --data-dir DIR   # MNIST IDX files (or set SYMNORM_DATA)
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import symnorm as sn


def lenet_bn(num_classes=10):
    """conv6@5 -> BN -> sigmoid -> avgpool2 -> conv16@5 -> BN -> sigmoid -> avgpool2 ->
    FC120 -> BN -> sigmoid -> FC84 -> BN -> sigmoid -> FC10 -> SoftmaxOutput."""
    s = sn.sym
    net = s.Variable("data")
    net = s.Convolution(net, kernel=(5, 5), num_filter=6, name="conv1")
    net = s.BatchNorm(net, fix_gamma=False, name="bn1")
    net = s.Activation(net, act_type="sigmoid", name="sig1")
    net = s.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool1")
    net = s.Convolution(net, kernel=(5, 5), num_filter=16, name="conv2")
    net = s.BatchNorm(net, fix_gamma=False, name="bn2")
    net = s.Activation(net, act_type="sigmoid", name="sig2")
    net = s.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool2")
    net = s.Flatten(net, name="flat")
    net = s.FullyConnected(net, num_hidden=120, name="fc1")
    net = s.BatchNorm(net, fix_gamma=False, name="bn3")
    net = s.Activation(net, act_type="sigmoid", name="sig3")
    net = s.FullyConnected(net, num_hidden=84, name="fc2")
    net = s.BatchNorm(net, fix_gamma=False, name="bn4")
    net = s.Activation(net, act_type="sigmoid", name="sig4")
    net = s.FullyConnected(net, num_hidden=num_classes, name="fc3")
    return s.SoftmaxOutput(net, name="softmax")


def load_data(data_dir):
    """(train_x, train_y, test_x, test_y, description)."""
    if data_dir:
        from symnorm.idx import load_mnist
        x, y = load_mnist(data_dir, "t10k")
        return x[:8000], y[:8000], x[8000:], y[8000:], "MNIST t10k from %s (8000 train / 2000 test)" % data_dir
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("no --data-dir given and scikit-learn is not installed: run ./dev demo, or "
                 "pip install scikit-learn, or pass --data-dir with MNIST IDX files")
    digits = load_digits()
    # 8x8 images in [0, 16] -> 28x28 in [0, 1]: each pixel repeated 3x3, then padded by 2
    x = np.kron(digits.images / 16.0, np.ones((3, 3)))
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))[:, None].astype(np.float32)
    y = digits.target.astype(np.float32)
    idx = np.random.RandomState(0).permutation(len(x))
    x, y = x[idx], y[idx]
    n = int(len(x) * 0.8)
    return x[:n], y[:n], x[n:], y[n:], "scikit-learn digits, 8x8 upsampled to 28x28 (%d train / %d test)" % (n, len(x) - n)


def init_params(ex, rng):
    for name, arr in ex.arg_dict.items():
        if name.endswith("_weight"):
            fan_in, fan_out = int(np.prod(arr.shape[1:])), arr.shape[0] * int(np.prod(arr.shape[2:]))
            bound = np.sqrt(6.0 / (fan_in + fan_out))          # Xavier uniform
            arr[...] = rng.uniform(-bound, bound, arr.shape)
        elif name.endswith("_gamma"):
            arr[...] = 1
        elif name not in ("data", "softmax_label"):
            arr[...] = 0
    for name, arr in ex.aux_dict.items():
        arr[...] = 1 if name.endswith("_moving_var") else 0


def evaluate(ex_eval, x, y, batch):
    correct = 0
    for i in range(0, len(x) - batch + 1, batch):
        out = ex_eval.forward(is_train=False, data=x[i:i + batch])[0]
        correct += int((out.argmax(axis=1) == y[i:i + batch]).sum())
    return correct / ((len(x) // batch) * batch)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("SYMNORM_DATA"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--out", default="out", help="where the symbol JSON is written")
    args = ap.parse_args(argv)

    tx, ty, vx, vy, what = load_data(args.data_dir)
    print("data:", what)
    net = lenet_bn()
    b = args.batch_size
    sn.viz.print_summary(net, shape={"data": (1,) + tx.shape[1:]})
    ex = net.simple_bind(sn.cpu(), data=(b,) + tx.shape[1:])
    ex_eval = ex.reshape(allow_up_sizing=True, data=(b,) + tx.shape[1:])
    rng = np.random.RandomState(42)
    init_params(ex, rng)
    params = [k for k in net.list_arguments() if k not in ("data", "softmax_label")]
    velocity = {k: np.zeros_like(ex.arg_dict[k]) for k in params}
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = rng.permutation(len(tx))
        loss_sum = correct = seen = 0
        for i in range(0, len(tx) - b + 1, b):
            idx = order[i:i + b]
            out = ex.forward(is_train=True, data=tx[idx], softmax_label=ty[idx])[0]
            ex.backward()
            for k in params:      # SGD with momentum; gradients are the batch mean
                v = velocity[k]
                v *= args.momentum
                v -= (args.lr / b) * ex.grad_dict[k]
                ex.arg_dict[k] += v
            p = out[np.arange(b), ty[idx].astype(int)]
            loss_sum += float(-np.log(np.maximum(p, 1e-12)).sum())
            correct += int((out.argmax(axis=1) == ty[idx]).sum())
            seen += b
        dt = time.perf_counter() - t0
        acc = evaluate(ex_eval, vx, vy, b)
        print("Epoch[%d] Train-loss=%.4f Train-accuracy=%.4f Validation-accuracy=%.4f "
              "Time cost=%.1fs (%.0f samples/s)" % (epoch, loss_sum / seen, correct / seen, acc,
                                                   dt, seen / dt))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "lenet_bn-symbol.json")
    net.save(path)
    picture = sn.viz.plot_network(net, title="lenet_bn", shape={"data": (1,) + tx.shape[1:]})
    picture.save(os.path.join(args.out, "lenet_bn.dot"))
    with open(os.path.join(args.out, "lenet_bn.svg"), "wb") as f:
        f.write(picture.pipe("svg"))
    print("saved", path, "and the graph picture", os.path.join(args.out, "lenet_bn.svg"))
    print("bn1 gamma:", np.round(ex.arg_dict["bn1_gamma"], 3))
    print("bn1 beta: ", np.round(ex.arg_dict["bn1_beta"], 3))
    print("test accuracy: %.4f" % acc)
    return acc


if __name__ == "__main__":
    main()
