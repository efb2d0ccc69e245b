"""ONNX export of the MXNet parity ops beyond their registry examples (which
``test_onnx.py`` runs at two opsets and reads back): MXNet's cast rules, float indices and
their modes, and the ops that read shapes at run time under a dynamic batch."""
import numpy as np
import pytest

import symnorm as sn

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_onnx import forward, run_onnx  # noqa: E402

sym = sn.sym


def export_and_run(net, feeds, tmp_path, **kwargs):
    path = str(tmp_path / "m.onnx")
    shapes = kwargs.pop("shapes", {k: v.shape for k, v in feeds.items()})
    sn.onnx.export_model(net, {}, shapes, onnx_file_path=path, **kwargs)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    return run_onnx(path, feeds)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int8", "int64", "bool", "float16"])
def test_cast_truncates_wraps_and_tests_nonzero_as_mxnet(dtype, tmp_path):
    x = np.array([[-1.7, 2.9, 300.5], [0.0, -0.4, 127.9]], np.float32)
    (out,) = export_and_run(sym.Cast(sym.Variable("data"), dtype=dtype), {"data": x}, tmp_path)
    ref = forward(sym.Cast(sym.Variable("data"), dtype=dtype), {"data": x}, {})[0]
    assert out.dtype == ref.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, ref)      # e.g. -1.7 -> 255 as uint8, 300.5 -> 44


@pytest.mark.parametrize("mode", ["clip", "wrap"])
def test_float_indices_truncate_and_follow_mode(mode, tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    idx = np.array([-5.5, -1.2, 0.9, 3.99, 4.0, 7.3], np.float32)
    va, vi = sym.Variable("a"), sym.Variable("i")
    net = sym.Group([sym.take(va, vi, mode=mode), sym.pick(va, sym.Variable("j"), axis=0, mode=mode),
                     sym.one_hot(vi, depth=4)])
    feeds = {"a": a, "i": idx, "j": idx[:3]}
    outs = export_and_run(net, feeds, tmp_path)
    for o, r in zip(outs, forward(net, feeds, {})):
        np.testing.assert_array_equal(o, r)


def test_ops_reading_shapes_follow_a_dynamic_batch(tmp_path):
    """Exported at batch 2, run at batch 5: every op that takes sizes from its input."""
    x = sym.Variable("data")
    like = sym.Variable("like")
    outs = [sym.broadcast_to(sym.expand_dims(sym.sum(x, axis=2), axis=2), shape=(0, 3, 4)),
            sym.broadcast_axis(sym.slice_axis(x, axis=2, begin=0, end=1), axis=2, size=6),
            sym.repeat(x, repeats=2, axis=1), sym.tile(x, reps=(1, 2, 1)),
            sym.slice_like(x, like, axes=(0, 2)), sym.zeros_like(x), sym.ones_like(x),
            sym.batch_take(sym.Reshape(x, shape=(-1, 4)), sym.Variable("rows")),
            sym.topk(x, k=2, ret_typ="mask", axis=None), sym.argmax(x, axis=1),
            sym.where(sym.sum(x, axis=(1, 2)), x, -x), sym.stack(x, x, axis=1),
            sym.SwapAxis(x, dim1=0, dim2=2), sym.shape_array(x), sym.size_array(x)]
    net = sym.Group(outs)
    rng = np.random.RandomState(0)

    def feeds(n):
        return {"data": rng.randn(n, 3, 4).astype(np.float32),
                "like": np.zeros((n, 1, 2), np.float32),
                "rows": rng.randint(-1, 5, n * 3).astype(np.int32)}     # some clipped
    small, big = feeds(2), feeds(5)
    path = str(tmp_path / "dyn.onnx")
    sn.onnx.export_model(net, {}, {k: v.shape for k, v in small.items()}, onnx_file_path=path,
                         in_types=[np.float32, np.float32, np.int32], dynamic=True)
    got = run_onnx(path, big)
    for k, (o, r) in enumerate(zip(got, forward(net, big, {}))):
        np.testing.assert_allclose(o, r, rtol=1e-6, err_msg="output %d" % k)


def _model(nodes, inputs, output, inits=()):
    from onnx import helper, TensorProto
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
    out = helper.make_tensor_value_info(output, TensorProto.FLOAT, None)
    inits = [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in inits]
    g = onnx.helper.make_graph(nodes, "g", ins, [out], initializer=inits)
    return onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", 17)])


@pytest.mark.parametrize("node, inputs, inits, why", [
    (("Pad", ["x", "p"], {}), [("x", [1, 2, 3, 3])], [("p", np.array([0, 1, 0, 0, 0, 1, 0, 0]))],
     "spatial axes of 4-d and 5-d"),
    (("Sum", ["x", "b"], {}), [("x", [2, 3]), ("b", [1, 3])], [], "broadcasting"),
    (("ArgMax", ["x"], {"select_last_index": 1}), [("x", [2, 3])], [], "select_last_index"),
    (("TopK", ["x", "k"], {"sorted": 0}), [("x", [2, 3])], [("k", np.array([2]))], "sorted=0"),
    (("Where", ["c", "x", "x"], {}), [("c", [1, 3]), ("x", [2, 3])], [], "broadcasting"),
])
def test_import_of_what_mxnet_ops_cannot_express_names_the_node(node, inputs, inits, why):
    """The importers of the parity ops refuse the ONNX forms symnorm's ops do not have,
    with OnnxImportError naming the node and op (never a raw error, never a wrong graph)."""
    op, ins, attrs = node
    outs = ["y", "i"] if op == "TopK" else ["y"]
    model = _model([onnx.helper.make_node(op, ins, outs, name="n1", **attrs)], inputs, "y", inits)
    with pytest.raises(sn.onnx.OnnxImportError, match=r"'n1' \(%s\).*%s" % (op, why)):
        sn.onnx.import_model(model)
