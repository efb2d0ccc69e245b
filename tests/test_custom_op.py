"""Custom operators in Python (mx.operator.CustomOp / CustomOpProp / register, sym.Custom):
the behaviours MXNet 1.9.1's test_custom_op* check, plus JSON, losses and Module.fit."""
import copy
import pickle

import numpy as np
import pytest

import symnorm as mx
from symnorm.test_utils import check_numeric_gradient


# ------------------------------------------------------------------ ops used below

class Sqr(mx.operator.CustomOp):
    """y = x * x; the aux state is set to 1 in forward and must read 1 in backward."""
    def forward(self, is_train, req, in_data, out_data, aux):
        aux[0][:] = 1
        self.assign(out_data[0], req[0], in_data[0] * in_data[0])

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        assert (aux[0] == 1).all()
        self.assign(in_grad[0], req[0], 2 * in_data[0] * out_grad[0])


@mx.operator.register("t_sqr")
class SqrProp(mx.operator.CustomOpProp):
    def __init__(self):
        super().__init__(need_top_grad=True)

    def list_arguments(self):
        return ["data"]

    def list_outputs(self):
        return ["output"]

    def list_auxiliary_states(self):
        return ["aux"]

    def infer_shape(self, in_shape):
        return in_shape, [in_shape[0]], [in_shape[0]]

    def infer_type(self, in_type):
        return in_type, [in_type[0]], [in_type[0]]

    def create_operator(self, ctx, shapes, dtypes):
        return Sqr()


class Mult(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        self.assign(out_data[0], req[0], in_data[0] * in_data[1])

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], in_data[1])
        self.assign(in_grad[1], req[1], in_data[0])


class MultProp(mx.operator.CustomOpProp):
    def list_arguments(self):
        return ["lhs", "rhs"]

    def infer_shape(self, in_shape):
        return in_shape, [in_shape[0]]           # two lists: no aux

    def create_operator(self, ctx, shapes, dtypes):
        return Mult()


@mx.operator.register("t_mult_no_grad")
class MultNoGradProp(MultProp):
    def __init__(self):
        super().__init__(need_top_grad=False)


class Ones(mx.operator.CustomOp):
    def __init__(self, length, depth):
        super().__init__()
        self.output = np.ones((length, depth), np.float32)

    def forward(self, is_train, req, in_data, out_data, aux):
        self.assign(out_data[0], req[0], self.output)


@mx.operator.register("t_no_input")
class OnesProp(mx.operator.CustomOpProp):
    def __init__(self, length, depth):
        super().__init__()
        self.length, self.depth = int(length), int(depth)

    def list_arguments(self):
        return []

    def infer_shape(self, in_shape):
        return [], [(self.length, self.depth)], []

    def infer_type(self, in_type):
        return [], [np.float32], []

    def create_operator(self, ctx, shapes, dtypes):
        return Ones(self.length, self.depth)


class NumpySoftmax(mx.operator.CustomOp):
    """The classic MXNet "numpy-op" softmax loss: backward is p - onehot(label)."""
    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0]
        y = np.exp(x - x.max(axis=1, keepdims=True))
        self.assign(out_data[0], req[0], y / y.sum(axis=1, keepdims=True))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        label = in_data[1].astype(int)
        g = out_data[0].copy()
        g[np.arange(label.shape[0]), label] -= 1.0
        self.assign(in_grad[0], req[0], g)


@mx.operator.register("t_softmax")
class SoftmaxProp(mx.operator.CustomOpProp):
    def __init__(self):
        super().__init__(need_top_grad=False)

    def list_arguments(self):
        return ["data", "label"]

    def infer_shape(self, in_shape):
        return [in_shape[0], (in_shape[0][0],)], [in_shape[0]], []

    def create_operator(self, ctx, shapes, dtypes):
        return NumpySoftmax()


mx.operator.register("t_mult")(MultProp)


# ------------------------------------------------------------------ MXNet's test_custom_op

def test_aux_state_is_written_in_forward_and_seen_in_backward():
    data, aux = mx.sym.Variable("data"), mx.sym.Variable("aux")
    op = mx.sym.Custom(data=data, aux=aux, name="sqr", op_type="t_sqr")
    assert op.list_arguments() == ["data"] and op.list_auxiliary_states() == ["aux"]
    x = np.random.RandomState(0).uniform(-1, 1, (4, 10))
    check_numeric_gradient(op, [x], [np.zeros_like(x)])
    ex = op.simple_bind(mx.cpu(), data=x.shape)
    ex.forward(is_train=True, data=x)
    ex.backward(np.ones_like(x))
    # the written aux value is committed as BatchNorm's are (at backward by default)
    assert (ex.aux_dict["aux"] == 1).all()
    # dtypes follow the prop's infer_type (MXNet's test casts to float64 around the op)
    assert op.infer_type(data=np.float64) == ([np.float64], [np.float64], [np.float64])
    ex = op.simple_bind(mx.cpu(), data=x.shape, type_dict={"data": np.float64})
    assert ex.forward(is_train=False, data=x)[0].dtype == np.float64


def test_two_inputs_gradients_with_and_without_top_grad():
    rs = np.random.RandomState(1)
    lhs, rhs = rs.uniform(-1, 1, (4, 10)), rs.uniform(-1, 1, (4, 10))
    for op_type, head in (("t_mult", np.ones((4, 10))), ("t_mult_no_grad", None)):
        y = mx.sym.Custom(mx.sym.Variable("lhs"), mx.sym.Variable("rhs"), op_type=op_type)
        ex = y.simple_bind(mx.cpu(), lhs=lhs.shape, rhs=rhs.shape)
        out = ex.forward(is_train=True, lhs=lhs, rhs=rhs)[0]
        np.testing.assert_allclose(out, lhs * rhs, rtol=1e-6)
        ex.backward(head)                  # need_top_grad=False: no head gradient needed
        np.testing.assert_allclose(ex.grad_dict["lhs"], rhs, rtol=1e-6)
        np.testing.assert_allclose(ex.grad_dict["rhs"], lhs, rtol=1e-6)


def test_op_without_inputs_gets_its_kwargs_as_strings():
    x = mx.sym.Custom(length=10, depth=3, op_type="t_no_input")
    assert x.list_arguments() == []
    assert x.attr_dict()[x.name] == {"op_type": "t_no_input", "length": "10", "depth": "3"}
    ex = x.simple_bind(mx.cpu())
    np.testing.assert_array_equal(ex.forward()[0], np.ones((10, 3), np.float32))


# ------------------------------------------------------------------ loss heads, Module.fit

def test_loss_head_drops_the_gradient_arriving_at_its_output():
    data, label = mx.sym.Variable("data"), mx.sym.Variable("label")
    sm = mx.sym.Custom(data=data, label=label, op_type="t_softmax", name="sm")
    net = sm * 3                          # a head gradient reaching sm is ignored, as in MXNet
    x, lab = np.random.RandomState(2).randn(3, 4), np.array([0, 2, 1])
    ex = net.simple_bind(mx.cpu(), data=x.shape, label=(3,))
    p = ex.forward(is_train=True, data=x, label=lab)[0] / 3
    ex.backward(np.ones((3, 4)))
    np.testing.assert_allclose(ex.grad_dict["data"], p - np.eye(4)[lab], rtol=1e-5, atol=1e-6)


def test_module_fit_with_numpy_softmax_loss():
    rs = np.random.RandomState(3)
    centers = rs.randn(3, 5) * 3
    y = rs.randint(0, 3, 240)
    x = (centers[y] + rs.randn(240, 5)).astype(np.float32)
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=3, name="fc")
    net = mx.sym.Custom(data=fc, name="softmax", op_type="t_softmax")
    assert net.list_arguments() == ["data", "fc_weight", "fc_bias", "softmax_label"]
    it = mx.io.NDArrayIter(x, y.astype(np.float32), batch_size=20, shuffle=True)
    mod = mx.mod.Module(net)
    mx.random.seed(0)
    mod.fit(it, num_epoch=5, optimizer="sgd", optimizer_params={"learning_rate": 0.1})
    it.reset()
    assert mod.score(it, "acc")[0][1] > 0.9


# ------------------------------------------------------------------ JSON, copies

def test_json_round_trip_rebuilds_the_prop_from_the_attrs():
    x = mx.sym.Custom(length=2, depth=5, op_type="t_no_input", name="ones")
    text = x.tojson()
    node = [n for n in __import__("json").loads(text)["nodes"] if n["op"] == "Custom"][0]
    assert node["attrs"] == {"depth": "5", "length": "2", "op_type": "t_no_input"}
    back = mx.sym.load_json(text)
    assert back.tojson() == text
    assert back.simple_bind(mx.cpu()).forward()[0].shape == (2, 5)
    sq = mx.sym.Custom(data=mx.sym.Variable("d"), op_type="t_sqr", name="s")
    back = mx.sym.load_json(sq.tojson())
    assert back.list_auxiliary_states() == ["s_aux"] and back.tojson() == sq.tojson()
    assert pickle.loads(pickle.dumps(sq._entries[0].node.op)) == sq._entries[0].node.op
    assert copy.deepcopy(sq).tojson() == sq.tojson()


def test_unknown_op_type_is_named_with_the_registered_ones():
    with pytest.raises(mx.ParamError, match=r"'t_nope'.*registered: .*t_sqr"):
        mx.sym.Custom(mx.sym.Variable("d"), op_type="t_nope")
    with pytest.raises(mx.ParamError, match="op_type"):
        mx.sym.Custom(mx.sym.Variable("d"))
    text = mx.sym.Custom(mx.sym.Variable("d"), op_type="t_sqr").tojson()
    with pytest.raises(mx.ParamError, match="'t_gone'"):
        mx.sym.load_json(text.replace("t_sqr", "t_gone"))


# ------------------------------------------------------------------ inputs and errors

def test_inputs_by_keyword_or_position_not_both_and_names_checked():
    d, l = mx.sym.Variable("d"), mx.sym.Variable("l")
    assert mx.sym.Custom(d, l, op_type="t_mult").list_arguments() == ["d", "l"]
    assert mx.sym.Custom(rhs=l, op_type="t_mult", name="m").list_arguments() == ["m_lhs", "l"]
    with pytest.raises(mx.ParamError, match="not both"):
        mx.sym.Custom(d, rhs=l, op_type="t_mult")
    with pytest.raises(mx.ParamError, match="'bogus'"):
        mx.sym.Custom(bogus=d, op_type="t_mult")


def _dot_prop(name, forward, backward=None):
    class Dot(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            forward(self, req, in_data, out_data)

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            if backward is not None:
                backward(self, req, in_grad)

    @mx.operator.register(name)
    class DotProp(mx.operator.CustomOpProp):
        def list_arguments(self):
            return ["a", "b"]

        def infer_shape(self, in_shape):
            return in_shape, [(in_shape[0][0], in_shape[1][1])]

        def create_operator(self, ctx, shapes, dtypes):
            return Dot()


def test_errors_in_user_code_name_the_node():
    def fails(self, req, in_data, out_data):
        raise KeyError("boom")

    def writes_input(self, req, in_data, out_data):
        in_data[0][:] = 0

    def wrong_shape(self, req, in_data, out_data):
        self.assign(out_data[0], req[0], np.zeros((7, 7)))

    def ok(self, req, in_data, out_data):
        self.assign(out_data[0], req[0], in_data[0] @ in_data[1])

    def bad_grad(self, req, in_grad):
        self.assign(in_grad[0], "sometimes", 1.0)
    for i, (fwd, bwd, pattern) in enumerate((
            (fails, None, "forward of Custom 'dotnode' failed: KeyError"),
            (writes_input, None, "forward of Custom 'dotnode' failed: ValueError.*read-only"),
            (wrong_shape, None, r"forward of Custom 'dotnode'.*src of shape \(7, 7\)"),
            (ok, bad_grad, "backward of Custom 'dotnode'.*req must be one of"))):
        _dot_prop("t_dot%d" % i, fwd, bwd)
        y = mx.sym.Custom(mx.sym.Variable("a"), mx.sym.Variable("b"), op_type="t_dot%d" % i,
                          name="dotnode")
        ex = y.simple_bind(mx.cpu(), a=(4, 1), b=(1, 4))
        with pytest.raises(mx.SymnormError, match=pattern):
            ex.forward(is_train=True)
            ex.backward(np.ones((4, 4)))
    # a shape the user's infer_shape cannot take: a ShapeError naming node and op_type
    y = mx.sym.Custom(mx.sym.Variable("a"), mx.sym.Variable("b"), op_type="t_dot0", name="dn")
    with pytest.raises(mx.ShapeError, match=r"Custom 'dn'.*'t_dot0': infer_shape.*IndexError"):
        y.infer_shape(a=(4,), b=(1,))


def test_bad_prop_answers_are_clear_errors():
    class Base(mx.operator.CustomOpProp):
        def infer_shape(self, in_shape):
            return (in_shape,)

    @mx.operator.register("t_bad_infer")
    class BadInfer(Base):
        pass

    @mx.operator.register("t_dup")
    class Dup(Base):
        def list_arguments(self):
            return ["x", "x"]

    @mx.operator.register("t_ctor")
    class Ctor(Base):
        def __init__(self, k):
            super().__init__()
            self.k = int(k)
    d = mx.sym.Variable("d")
    with pytest.raises(mx.ShapeError, match="must return 2 or 3 lists"):
        mx.sym.Custom(d, op_type="t_bad_infer").infer_shape(d=(2,))
    with pytest.raises(mx.ParamError, match="'x' repeated"):
        mx.sym.Custom(d, op_type="t_dup")
    with pytest.raises(mx.ParamError, match=r"Ctor\(k='a'\) failed: ValueError"):
        mx.sym.Custom(d, op_type="t_ctor", k="a")
    with pytest.raises(mx.ShapeError, match="returned 0 aux state entries, expected 1"):
        _sqr_two_lists().infer_shape(d=(2,))
    @mx.operator.register("t_none_outputs")
    class NoneOutputs(Base):
        def list_outputs(self):
            return None
    with pytest.raises(mx.ParamError, match=r"list_outputs\(\) must return a list of str"):
        mx.sym.Custom(d, op_type="t_none_outputs")
    with pytest.raises(TypeError, match="not a subclass of CustomOpProp"):
        mx.operator.register("t_plain")(object)


def _sqr_two_lists():
    @mx.operator.register("t_sqr2")
    class Sqr2(SqrProp):
        def infer_shape(self, in_shape):
            return in_shape, [in_shape[0]]
    return mx.sym.Custom(mx.sym.Variable("d"), op_type="t_sqr2")


def test_assign_honours_req():
    op = mx.operator.CustomOp()
    dst = np.ones(3)
    op.assign(dst, "null", np.full(3, 5.0))
    assert dst.tolist() == [1, 1, 1]
    op.assign(dst, "write", np.full(3, 5.0))
    op.assign(dst, "add", 2.0)
    assert dst.tolist() == [7, 7, 7]
    op.assign(dst, "inplace", np.arange(3.0))
    assert dst.tolist() == [0, 1, 2]
    scalar = np.zeros(())
    op.assign(scalar, "write", 4.0)
    assert scalar == 4.0


def test_viewer_draws_a_custom_op_nobody_registered_as_a_placeholder(tmp_path):
    """An MXNet model with Python ops (a detector's proposal layer) still opens in the
    viewer when its op_type is not registered here: the node becomes a placeholder."""
    from symnorm.viz.opaque import load_for_view
    d = mx.sym.Variable("d")
    net = mx.sym.Custom(mx.sym.FullyConnected(d, num_hidden=3, name="fc"), op_type="t_mult",
                        name="c") + 1
    path = tmp_path / "m-symbol.json"
    path.write_text(net.tojson().replace("t_mult", "t_elsewhere"))
    sym, unknown = load_for_view(str(path))
    assert unknown == ["Custom"] and "c" in {n for n in sym.attr_dict()}
    path.write_text(net.tojson())
    assert load_for_view(str(path))[1] == []
