"""LeNet with BatchNorm (the d2l book's network), built symbolically and trained with the
executor: forward, backward, SGD with momentum, BatchNorm statistics written back each step.

    python examples/lenet_bn.py                  # embedded data: scikit-learn's 8x8 digits
    python examples/lenet_bn.py --data-dir DIR   # MNIST IDX files (or set SYMNORM_DATA)
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

import numpy as np

import symnorm as sn


def lenet_bn(num_classes=10, batchnorm=True, sync=False):
    """conv6@5 -> BN -> sigmoid -> avgpool2 -> conv16@5 -> BN -> sigmoid -> avgpool2 ->
    FC120 -> BN -> sigmoid -> FC84 -> BN -> sigmoid -> FC10 -> SoftmaxOutput
    (``batchnorm=False``: the same net without the BatchNorm layers; ``sync=True``:
    SyncBatchNorm, statistics over the global batch of a data-parallel run)."""
    s = sn.sym
    norm = s.contrib.SyncBatchNorm if sync else s.BatchNorm

    def bn(net, name):
        return norm(net, fix_gamma=False, name=name) if batchnorm else net
    net = s.Variable("data")
    net = s.Convolution(net, kernel=(5, 5), num_filter=6, name="conv1")
    net = s.Activation(bn(net, "bn1"), act_type="sigmoid", name="sig1")
    net = s.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool1")
    net = s.Convolution(net, kernel=(5, 5), num_filter=16, name="conv2")
    net = s.Activation(bn(net, "bn2"), act_type="sigmoid", name="sig2")
    net = s.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool2")
    net = s.Flatten(net, name="flat")
    net = s.FullyConnected(net, num_hidden=120, name="fc1")
    net = s.Activation(bn(net, "bn3"), act_type="sigmoid", name="sig3")
    net = s.FullyConnected(net, num_hidden=84, name="fc2")
    net = s.Activation(bn(net, "bn4"), act_type="sigmoid", name="sig4")
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


def main(argv=None):
    # the docstring's first paragraph, whole (its first line alone stops mid-sentence)
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--data-dir", default=os.environ.get("SYMNORM_DATA"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=None,
                    help="default 128 on MNIST, 32 on the small embedded digits set")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--no-bn", action="store_true",
                    help="the same net without BatchNorm (files named lenet_nobn*)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--out", default="out", help="where the checkpoint and picture are written")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    sn.runtime.allocator.keep_freed_memory()    # an application may tune malloc for its process

    tx, ty, vx, vy, what = load_data(args.data_dir)
    print("data:", what)
    if args.batch_size is None:
        args.batch_size = 128 if args.data_dir else 32
    net = lenet_bn(batchnorm=not args.no_bn)
    sn.viz.print_summary(net, shape={"data": (1,) + tx.shape[1:]})
    sn.random.seed(args.seed)
    train = sn.io.NDArrayIter(tx, ty, batch_size=args.batch_size, shuffle=True,
                              last_batch_handle="discard")
    test = sn.io.NDArrayIter(vx, vy, batch_size=args.batch_size)
    mod = sn.Module(net)
    curve = []
    mod.fit(train, eval_data=test, num_epoch=args.epochs, initializer=sn.init.Xavier(),
            optimizer="sgd", optimizer_params={"learning_rate": args.lr, "momentum": args.momentum},
            epoch_end_callback=lambda epoch, *a: curve.append(epoch),
            progress=not args.no_progress)
    acc = dict(mod.score(test, "acc"))["accuracy"]
    os.makedirs(args.out, exist_ok=True)
    # the run without BatchNorm keeps its own files beside the BatchNorm run's
    prefix = os.path.join(args.out, "lenet_nobn" if args.no_bn else "lenet_bn")
    mod.save_checkpoint(prefix, args.epochs)
    picture = sn.viz.plot_network(net, title=os.path.basename(prefix), shape={"data": (1,) + tx.shape[1:]})
    picture.save(prefix + ".dot")
    with open(prefix + ".svg", "wb") as f:
        f.write(picture.pipe("svg"))
    print("saved %s-symbol.json, %s-%04d.params and the graph picture %s.svg"
          % (prefix, prefix, args.epochs, prefix))
    if not args.no_bn:
        arg, _ = mod.get_params()
        print("bn1 gamma:", np.round(arg["bn1_gamma"], 3))
        print("bn1 beta: ", np.round(arg["bn1_beta"], 3))
    print("test accuracy: %.4f" % acc)
    return acc


if __name__ == "__main__":
    main()
