"""Module.fit logs as MXNet 1.9.1 does under the MXNet tutorials' setup (the root logger at
INFO, nothing else configured), and a log that is not a terminal gets no progress frames."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = r'''
import logging
logging.getLogger().setLevel(logging.INFO)
import numpy as np
import symnorm as mx
X = np.random.RandomState(0).rand(40, 3).astype("float32")
Y = (np.arange(40) % 2).astype("float32")
it = mx.io.NDArrayIter(X, Y, batch_size=10)
net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc"), name="softmax")
mod = mx.mod.Module(net)
mod.fit(it, eval_data=it, num_epoch=2, batch_end_callback=mx.callback.Speedometer(10, 2),
        epoch_end_callback=mx.callback.do_checkpoint(PREFIX))
'''
# MXNet 1.9.1 printed these for the same script (numbers masked)
MXNET_LINES = [
    'INFO:root:Epoch[0] Batch [0-2]\tSpeed: # samples/sec\taccuracy=#',
    'INFO:root:Epoch[0] Train-accuracy=#',
    'INFO:root:Epoch[0] Time cost=#',
    'INFO:root:Saved checkpoint to "PREFIX-0001.params"',
    'INFO:root:Epoch[0] Validation-accuracy=#',
    'INFO:root:Epoch[1] Batch [0-2]\tSpeed: # samples/sec\taccuracy=#',
    'INFO:root:Epoch[1] Train-accuracy=#',
    'INFO:root:Epoch[1] Time cost=#',
    'INFO:root:Saved checkpoint to "PREFIX-0002.params"',
    'INFO:root:Epoch[1] Validation-accuracy=#',
]


def test_fit_logs_mxnets_lines_with_only_the_root_level_set_and_no_progress_frames(tmp_path):
    prefix = str(tmp_path / "ck")
    out = subprocess.run([sys.executable, "-c", SCRIPT.replace("PREFIX", repr(prefix))],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "\r" not in out.stderr and "\r" not in out.stdout       # no bar frames in a log
    lines = [re.sub(r"\d+\.\d+", "#", line) for line in out.stderr.splitlines()]
    assert lines == [l.replace("PREFIX", prefix) for l in MXNET_LINES]
