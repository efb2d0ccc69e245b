"""BatchNorm as input normalization: gamma/beta frozen, moving statistics still learned.

Raw features with very different scales go through a BatchNorm whose gamma/beta must stay
1/0, frozen either with ``lr_mult=0`` on the variables or with ``fixed_param_names``
(``grad_req='null'``). The moving statistics update in both cases (symnorm commits them
after every training step whatever the grad_req; MXNet would skip a BatchNorm that no
gradient flows through).

    python examples/input_normalization.py
"""
import numpy as np

import symnorm as sn


def build(freeze_with):
    s = sn.sym
    if freeze_with == "lr_mult":
        gamma, beta = s.Variable("in_gamma", lr_mult=0.0), s.Variable("in_beta", lr_mult=0.0)
    else:
        gamma, beta = s.Variable("in_gamma"), s.Variable("in_beta")
    x = s.BatchNorm(s.Variable("data"), gamma=gamma, beta=beta, fix_gamma=False, name="in")
    x = s.Activation(s.FullyConnected(x, num_hidden=16, name="fc1"), act_type="relu")
    return s.SoftmaxOutput(s.FullyConnected(x, num_hidden=2, name="fc2"), name="softmax")


def main(epochs=20):
    rng = np.random.RandomState(0)
    x = rng.randn(512, 3) * np.array([1000.0, 0.01, 5.0]) + np.array([5000.0, -3.0, 0.0])
    y = ((x[:, 0] - 5000) / 1000 + (x[:, 1] + 3) / 0.01 > 0).astype(np.float32)
    results = {}
    for how in ("lr_mult", "fixed_param_names"):
        sn.random.seed(0)
        mod = sn.Module(build(how), fixed_param_names=["in_gamma", "in_beta"] if how != "lr_mult" else None)
        it = sn.io.NDArrayIter(x.astype(np.float32), y, batch_size=64, shuffle=True)
        mod.fit(it, num_epoch=epochs, initializer=sn.init.Xavier(), progress=False,
                optimizer_params={"learning_rate": 0.05, "momentum": 0.9})
        arg, aux = mod.get_params()
        acc = dict(mod.score(it, "acc"))["accuracy"]
        results[how] = (acc, arg["in_gamma"], arg["in_beta"], aux["in_moving_mean"], aux["in_moving_var"])
        print("%-18s accuracy %.3f  gamma %s  beta %s\n%-18s moving mean %s  moving var %s"
              % (how, acc, arg["in_gamma"], arg["in_beta"], "", np.round(aux["in_moving_mean"], 2),
                 np.round(aux["in_moving_var"], 4)))
    return results


if __name__ == "__main__":
    main()
