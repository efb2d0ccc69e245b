"""Fluent methods on Symbol, Symbol.eval and MXNet's error/helper names (issue 16, items 2
and 6).  Goldens: MXNet 1.9.1's JSON node for the same calls."""
import numpy as np
import pytest

import symnorm as mx
from symnorm.ops.fluent import FLUENT
from symnorm.registry import ALIASES, REGISTRY

x = mx.sym.var("x")

CALLS = {
    "reshape": lambda: x.reshape((2, -1)), "sum": lambda: x.sum(1, True),
    "clip": lambda: x.clip(0, 1), "expand_dims": lambda: x.expand_dims(1),
    "transpose": lambda: x.transpose((1, 0)), "split": lambda: x.split(2, axis=1),
    "softmax": lambda: x.softmax(axis=0), "slice_axis": lambda: x.slice_axis(1, 0, 2),
    "flatten": lambda: x.flatten(), "sqrt": lambda: x.sqrt(),
}
# MXNet 1.9.1: (last output name, op, attrs) of the node each call makes
MXNET = {
    "reshape": [
        "reshape0_output",
        "Reshape",
        {
            "shape": "(2, -1)"
        }
    ],
    "sum": [
        "sum0_output",
        "sum",
        {
            "axis": "1",
            "keepdims": "True"
        }
    ],
    "clip": [
        "clip0_output",
        "clip",
        {
            "a_max": "1",
            "a_min": "0"
        }
    ],
    "expand_dims": [
        "expand_dims0_output",
        "expand_dims",
        {
            "axis": "1"
        }
    ],
    "transpose": [
        "transpose0_output",
        "transpose",
        {
            "axes": "(1, 0)"
        }
    ],
    "split": [
        "split0_output1",
        "SliceChannel",
        {
            "axis": "1",
            "num_outputs": "2"
        }
    ],
    "softmax": [
        "softmax0_output",
        "softmax",
        {
            "axis": "0"
        }
    ],
    "slice_axis": [
        "slice_axis0_output",
        "slice_axis",
        {
            "axis": "1",
            "begin": "0",
            "end": "2"
        }
    ],
    "flatten": [
        "flatten0_output",
        "Flatten",
        {}
    ],
    "sqrt": [
        "sqrt0_output",
        "sqrt",
        {}
    ]
}


@pytest.mark.parametrize("method", sorted(CALLS))
def test_fluent_node_as_mxnet(method):
    with mx.name.NameManager():          # fresh counters: reshape0, as in a new MXNet session
        s = CALLS[method]()
    node = [n for n in __import__("json").loads(s.tojson())["nodes"]][-1]
    assert (s.get_internals().list_outputs()[-1], node["op"], node.get("attrs", {})) == \
        tuple(MXNET[method])


def test_every_fluent_method_of_a_registered_op_exists():
    for method, op in FLUENT.items():
        registered = op in REGISTRY or op in ALIASES
        assert hasattr(mx.sym.Symbol, method) == registered, method


def test_fluent_values():
    v = np.arange(6.0).reshape(2, 3)
    assert np.allclose(x.sum(axis=1).eval(x=v)[0], v.sum(axis=1))
    assert np.allclose(x.transpose().square().eval(x=v)[0], (v ** 2).T)
    assert x.expand_dims(axis=0).squeeze(axis=0).eval(x=v)[0].shape == (2, 3)
    outs = x.split(num_outputs=3, axis=1).eval(x=v)
    assert len(outs) == 3 and np.allclose(outs[2], v[:, 2:])


def test_fluent_param_given_twice():
    with pytest.raises(mx.base.MXNetError, match="axis"):
        x.sum(1, axis=1)


def test_eval_binds_and_runs():
    a, b = mx.sym.var("a"), mx.sym.var("b")
    out = (a + b).eval(ctx=mx.cpu(), a=np.ones((2, 3)), b=np.ones((2, 3)))
    assert isinstance(out, list) and np.allclose(out[0], 2)


def test_symbol_has_no_truth_value_nor_inplace_ops():
    with pytest.raises(mx.base.NotImplementedForSymbol, match="bool"):
        bool(x)
    with pytest.raises(mx.base.MXNetError):
        y = x
        y += 1
    with pytest.raises(mx.base.NotImplementedForSymbol):
        x.asnumpy()
    assert len(mx.sym.Group([x, x + 1])) == 2


def test_mxnet_error_catches_symnorm_errors():
    assert mx.base.MXNetError is mx.SymnormError
    with pytest.raises(mx.base.MXNetError):
        mx.sym.FullyConnected(x, num_hidden=-1)


def test_base_and_context_helpers():
    assert mx.base.mx_real_t is np.float32
    assert mx.current_context() == mx.cpu()
    assert mx.Context(mx.cpu()) == mx.cpu()
