"""Fine-tuning with a frozen BatchNorm backbone (``use_global_stats=True``).

A small conv net is trained on one task, then its classifier is replaced and the network
is fine-tuned on a few samples of another task with every BatchNorm frozen by
``sn.freeze_batchnorm``: normalization uses the learned moving statistics (a tiny batch
would give useless batch statistics), they are not updated, and gamma/beta are fixed.

    python examples/finetune_frozen_bn.py
"""
import numpy as np

import symnorm as sn


def backbone():
    s = sn.sym
    x = s.Convolution(s.Variable("data"), kernel=(3, 3), num_filter=8, pad=(1, 1), name="conv1")
    x = s.Activation(s.BatchNorm(x, fix_gamma=False, name="bn1"), act_type="relu")
    x = s.Pooling(x, kernel=(1, 8), stride=(1, 8), pool_type="avg", name="rowpool")  # keep rows
    return s.Flatten(x, name="features")


def head(features, classes, name):
    return sn.sym.SoftmaxOutput(sn.sym.FullyConnected(features, num_hidden=classes, name=name),
                                name="softmax")


def data(rng, n, classes):
    y = rng.randint(0, classes, n)
    x = rng.randn(n, 1, 8, 8).astype(np.float32) * 0.5
    x[np.arange(n), 0, y, :] += 2.0          # the class is a bright row
    return x, y.astype(np.float32)


def main():
    rng = np.random.RandomState(0)
    sn.random.seed(0)
    x, y = data(rng, 512, 4)
    pre = sn.Module(head(backbone(), 4, "fc_pre"))
    pre.fit(sn.io.NDArrayIter(x, y, batch_size=64, shuffle=True), num_epoch=8, progress=False,
            initializer=sn.init.Xavier(), optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    arg, aux = pre.get_params()
    net, frozen = sn.freeze_batchnorm(head(backbone(), 8, "fc_new"))
    x2, y2 = data(rng, 16, 8)                 # 16 samples of a new 8-class task
    tune = sn.Module(net, fixed_param_names=frozen)
    tune.fit(sn.io.NDArrayIter(x2, y2, batch_size=4), num_epoch=30, progress=False,
             arg_params={k: v for k, v in arg.items() if not k.startswith("fc_pre")}, aux_params=aux,
             allow_missing=True, initializer=sn.init.Xavier(),
             optimizer_params={"learning_rate": 0.05, "momentum": 0.9})
    arg2, aux2 = tune.get_params()
    unchanged = all(np.array_equal(aux2[k], aux[k]) for k in aux)
    xt, yt = data(rng, 256, 8)
    acc = dict(tune.score(sn.io.NDArrayIter(xt, yt, batch_size=64), "acc"))["accuracy"]
    print("frozen BatchNorm statistics unchanged: %s; gamma/beta unchanged: %s; new-task "
          "accuracy from 16 samples: %.3f" % (unchanged, all(np.array_equal(arg2[k], arg[k]) for k in frozen), acc))
    return unchanged, acc


if __name__ == "__main__":
    main()
