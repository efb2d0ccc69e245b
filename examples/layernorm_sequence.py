"""LayerNorm on a batch of sequences in NTC layout (batch, time, channels).

Each time step of each sequence is normalized over its channels (axis=-1), independently
of the batch, so it behaves the same for a batch of one and in training and inference.
Here a per-position classifier learns to tell which of two channel patterns a step holds,
whatever that step's overall scale and offset (which LayerNorm removes).

    python examples/layernorm_sequence.py
"""
import numpy as np

import symnorm as sn


def main(epochs=30):
    rng = np.random.RandomState(0)
    n, t, c = 256, 6, 8
    patterns = rng.randn(2, c)
    y = rng.randint(0, 2, (n, t))
    scale = rng.uniform(0.1, 100, (n, t, 1))
    offset = rng.uniform(-50, 50, (n, t, 1))
    x = (patterns[y] + 0.3 * rng.randn(n, t, c)) * scale + offset
    s = sn.sym
    net = s.LayerNorm(s.Variable("data"), axis=-1, name="ln")                      # (N, T, C)
    net = s.FullyConnected(net, num_hidden=2, flatten=False, name="fc")            # (N, T, 2)
    net = s.SoftmaxOutput(s.transpose(net, axes=(0, 2, 1)), multi_output=True,     # classes on axis 1
                          normalization="valid", name="softmax")
    mod = sn.Module(net)
    it = sn.io.NDArrayIter(x.astype(np.float32), y.astype(np.float32), batch_size=32, shuffle=True)
    mod.fit(it, num_epoch=epochs, initializer=sn.init.Xavier(), progress=False,
            optimizer_params={"learning_rate": 0.5, "momentum": 0.9})
    prob = mod.predict(sn.io.NDArrayIter(x.astype(np.float32), batch_size=32)).asnumpy()   # (N, 2, T)
    acc = float((prob.argmax(axis=1) == y).mean())
    one = mod.predict(sn.io.NDArrayIter(x[:1].astype(np.float32), batch_size=1))
    print("per-step accuracy %.3f; a batch of one gives the same answer: %s"
          % (acc, bool(np.allclose(one, prob[:1], atol=1e-5))))
    return acc


if __name__ == "__main__":
    main()
