"""mx.nd and NDArray: MXNet 1.9.1's values (tests/fixtures/ndarray_mxnet, recorded from the
oracle), every op imperatively == the same op bound and run, and the NDArrays executors and
Modules hand out."""
import json
import os

import numpy as np
import pytest

import harness
import symnorm as mx
from symnorm import nd
from symnorm.registry import REGISTRY

GOLD = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "ndarray_mxnet",
                                   "ndarray_mxnet.json")))


# ------------------------------------------------------------------ MXNet's goldens
@pytest.mark.parametrize("key", sorted(GOLD["repr"]))
def test_repr_is_mxnets(key):
    assert repr(eval(GOLD["repr_exprs"][key])) == GOLD["repr"][key]


def test_array_dtype_is_float32_unless_the_source_is_an_ndarray():
    for key, (src, dtype) in GOLD["array_dtype"].items():
        assert nd.array(eval(src)).dtype == np.dtype(dtype), key


def test_reshape_codes():
    a = nd.arange(24).reshape(2, 3, 4)
    for shape, reverse, want in GOLD["reshape"]:
        got = a.reshape(shape, reverse=reverse)
        assert got.shape == tuple(want), (shape, reverse)
        assert isinstance(got, nd.NDArray) and np.shares_memory(got, a)   # a view, as MXNet's
    assert a.reshape(6, 4).shape == a.reshape(shape=(6, 4)).shape == (6, 4)


@pytest.mark.parametrize("expr", sorted(GOLD["values"]))
def test_values_and_dtypes(expr):
    x = nd.array([[1, 2], [3, 4]])            # noqa: F841  (the expressions use them)
    xi = nd.array([1, 2, 3], dtype="int32")   # noqa: F841
    values, dtype, shape = GOLD["values"][expr]
    got = eval(expr)
    assert isinstance(got, nd.NDArray)
    assert (got.dtype.name, list(got.shape)) == (dtype, shape)
    np.testing.assert_allclose(got.asnumpy(), np.array(values, dtype), rtol=1e-6)


def test_setitem_inplace_asscalar_and_attributes():
    x = nd.array([[1, 2], [3, 4]])
    y = x.copy()
    y[:] = 5
    y[0, 1] = 9
    y[1] += 1
    np.testing.assert_array_equal(y.asnumpy(), GOLD["setitem"])
    np.testing.assert_array_equal(x.asnumpy(), [[1, 2], [3, 4]])     # copy() copied
    z = nd.array([1, 2, 3], dtype="int32")
    z *= 1.5
    z += 1
    values, dtype = GOLD["inplace_int"]
    assert z.dtype == np.dtype(dtype) and z.asnumpy().tolist() == values
    value, kind = GOLD["asscalar"]
    s = nd.array([3]).asscalar()
    assert s == value and type(s).__name__ == kind
    with pytest.raises(ValueError, match="not a scalar"):
        x.asscalar()
    misc = GOLD["misc"]
    assert (str(x.context), str(x.ctx), x.stype) == (misc["context"], misc["ctx"], misc["stype"])
    assert (x.size, x.ndim, len(x)) == (misc["size"], misc["ndim"], misc["len"])
    assert type(x.asnumpy()) is np.ndarray and not np.shares_memory(x.asnumpy(), x)


@pytest.mark.parametrize("expr", sorted(GOLD["random"]))
def test_random_shapes_and_dtypes(expr):
    shape, dtype = GOLD["random"][expr]
    got = eval(expr)
    assert isinstance(got, nd.NDArray) and (list(got.shape), got.dtype.name) == (shape, dtype)


def test_random_follows_mx_random_seed():
    draw = lambda: [nd.random.uniform(shape=3), nd.random.normal(shape=(2,)),   # noqa: E731
                    nd.random.randint(0, 9, shape=4), nd.random.shuffle(nd.arange(5))]
    mx.random.seed(7)
    a = draw()
    mx.random.seed(7)
    b = draw()
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert sorted(a[3].asnumpy().tolist()) == [0, 1, 2, 3, 4]
    lo = nd.random.uniform(nd.array([0, 10]), nd.array([1, 11]), shape=50)
    assert lo.shape == (2, 50) and (lo[0] < 1).asnumpy().all() and (lo[1] >= 10).asnumpy().all()


# ------------------------------------------------------------------ every op, imperatively
@pytest.mark.parametrize("name,i,params,shapes", harness.cases(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_imperative_op_equals_bound_symbol(name, i, params, shapes, rng):
    """``nd.<Op>(arrays, **params)`` gives what ``sym.<Op>`` bound to the same arrays gives
    from ``forward(is_train=False)``, for every example of every registered op."""
    cls = REGISTRY[name]
    sym = harness.build(name, params, shapes)
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    from symnorm.test_utils import graph_types
    types = {k: np.float32 for k in shapes}
    types.update(graph_types(sym, np.float32))          # batch_take's int32 indices
    ex = sym.simple_bind(mx.cpu(), grad_req="null", type_dict=types, **shapes)
    values = {}
    for k in sym.list_arguments():
        slot = k[len("node_"):] if k not in shapes else k
        lo, hi = cls.input_range.get(slot, (None, None))
        v = rng.normal(0, 1, ex.arg_dict[k].shape) if lo is None else rng.uniform(lo, hi, ex.arg_dict[k].shape)
        values[k] = v.astype(ex.arg_dict[k].dtype)
        ex.arg_dict[k][...] = values[k]
    for k in sym.list_auxiliary_states():
        values[k] = rng.uniform(0.5, 1.5, ex.aux_dict[k].shape).astype(ex.aux_dict[k].dtype)
        ex.aux_dict[k][...] = values[k]
    want = [o.asnumpy() for o in ex.forward(is_train=False)]
    function = getattr(nd, name)
    if cls.variadic:
        got = function(*[nd.array(values[k], dtype=values[k].dtype) for k in sym.list_inputs()], **params)
    else:
        inputs = {(k[len("node_"):] if k not in shapes else k): nd.array(v, dtype=v.dtype)
                  for k, v in values.items()}
        got = function(**inputs, **params)
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert isinstance(g, nd.NDArray) and g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g.asnumpy(), w, rtol=1e-5, atol=1e-6)


def test_op_functions_take_mxnets_signature_and_out():
    x = nd.array([[1, -2], [3, -4]])
    w, b = nd.ones((3, 2)), nd.array([0, 1, 2])
    fc = nd.FullyConnected(x, w, b, 3)                          # num_hidden positionally
    np.testing.assert_array_equal(fc.asnumpy(), [[-1, 0, 1], [-1, 0, 1]])
    np.testing.assert_array_equal(nd.FullyConnected(x, w, None, 3, no_bias=True).asnumpy(),
                                  [[-1, -1, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(nd.FullyConnected(data=x, weight=w, bias=b, num_hidden=3), fc)
    target = nd.zeros((2, 2))
    assert nd.relu(x, out=target) is target and target.asnumpy().tolist() == [[1, 0], [3, 0]]
    assert nd.concat(x, x, x, dim=1).shape == nd.Concat(x, x, x, dim=1).shape == (2, 6)
    halves = nd.split(x, num_outputs=2, axis=1)
    assert isinstance(halves, list) and [h.shape for h in halves] == [(2, 1), (2, 1)]
    assert nd.contrib.SyncBatchNorm is not None and nd.stop_gradient(x).shape == (2, 2)
    # the result is the caller's own array, never a view of an input
    r = nd.Reshape(x, shape=(4,))
    r[:] = 0
    assert x.asnumpy()[0, 0] == 1
    # numpy arrays are inputs too
    assert nd.relu(np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]


def test_op_function_errors_name_the_op_and_input():
    x = nd.ones((2, 3))
    with pytest.raises(mx.ParamError, match="FullyConnected: input 'weight' was not given"):
        nd.FullyConnected(x, num_hidden=4)
    with pytest.raises(mx.ShapeError, match="FullyConnected.*'weight' has shape \\(4, 2\\).*\\(4, 3\\)"):
        nd.FullyConnected(x, nd.ones((4, 2)), nd.ones(4), num_hidden=4)
    with pytest.raises(mx.DTypeError, match="elemwise_add.*input 'rhs' has dtype float64"):
        nd.elemwise_add(x, np.ones((2, 3)))
    with pytest.raises(TypeError, match="Activation.*must be an NDArray, got 2"):
        nd.Activation(2, act_type="relu")
    with pytest.raises(mx.ParamError, match="cannot find argument 'bogus'"):
        nd.relu(x, bogus=1)
    with pytest.raises(mx.ShapeError, match="out="):
        nd.relu(x, out=nd.zeros((3,)))


def test_ops_registered_later_get_functions_and_methods():
    from symnorm.registry import Op, Result, register
    from symnorm.ops import fluent
    fluent.FLUENT["_test_twice"] = "_test_twice"
    try:
        @register(name="_test_twice")
        class Twice(Op):
            """y = 2 x"""
            def forward(self, data, *, train):
                return Result((data * 2,))
        assert nd._test_twice(nd.ones(2)).tolist() == [2, 2]
        assert nd.ones(2)._test_twice().tolist() == [2, 2]
    finally:
        REGISTRY.pop("_test_twice", None)
        fluent.FLUENT.pop("_test_twice", None)
        from symnorm.ndarray import ops
        ops.FUNCTIONS.pop("_test_twice", None)
        vars(nd).pop("_test_twice", None)
        if "_test_twice" in vars(nd.NDArray):
            delattr(nd.NDArray, "_test_twice")


# ------------------------------------------------------------------ executors and Modules
def _net():
    data = mx.sym.Variable("data")
    net = mx.sym.BatchNorm(mx.sym.FullyConnected(data, num_hidden=3, name="fc"), name="bn")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def test_executor_hands_out_ndarray_views():
    ex = _net().simple_bind(mx.cpu(), data=(4, 2))
    outs = ex.forward(is_train=True, data=nd.ones((4, 2)))
    ex.backward()
    for d in (ex.arg_dict, ex.aux_dict, ex.output_dict, {k: v for k, v in ex.grad_dict.items() if v is not None}):
        assert d and all(type(v) is nd.NDArray for v in d.values())
    for lst in (ex.arg_arrays, ex.aux_arrays, ex.outputs, outs):
        assert lst and all(type(v) is nd.NDArray for v in lst)
    assert all(type(g) is nd.NDArray for g in ex.grad_arrays if g is not None)
    # views of the arrays the runtime computes on: plain numpy, shared memory
    assert all(type(v) is np.ndarray for v in ex.np_arg_dict.values())
    assert ex.arg_dict["fc_weight"].base is ex.np_arg_dict["fc_weight"]
    assert ex.arg_dict["fc_weight"] is ex.arg_dict["fc_weight"]           # made once
    ex.arg_dict["fc_weight"][:] = 0
    assert not ex.np_arg_dict["fc_weight"].any()
    first = ex.outputs[0]
    ex.forward(is_train=False)
    assert ex.outputs[0] is not first or np.shares_memory(ex.outputs[0], ex.np_outputs[0])
    assert ex.outputs[0].base is ex.np_outputs[0] or ex.outputs[0].base is ex.np_outputs[0].base


def test_bind_and_forward_take_ndarrays():
    x = mx.sym.Variable("x")
    args = {"x": nd.array([1, -2])}
    grads = {"x": nd.zeros(2)}
    ex = mx.sym.relu(x).bind(mx.cpu(), args=args, args_grad=grads)
    assert type(ex.np_arg_dict["x"]) is np.ndarray and np.shares_memory(ex.np_arg_dict["x"], args["x"])
    ex.forward(is_train=True)
    ex.backward(nd.ones(2))
    assert grads["x"].tolist() == [1, 0]                         # written in place
    ex.forward(x=nd.array([3, 3]))
    assert args["x"].tolist() == [3, 3]
    ex.copy_params_from({"x": nd.array([5, 6])})
    assert ex.outputs[0].tolist() == [3, 3] and args["x"].tolist() == [5, 6]


def test_module_returns_ndarrays():
    mod = mx.mod.Module(_net(), data_names=["data"], label_names=["softmax_label"])
    mod.bind(data_shapes=[("data", (4, 2))], label_shapes=[("softmax_label", (4,))],
             inputs_need_grad=True)
    mod.init_params()
    batch = mx.io.DataBatch(data=[nd.ones((4, 2))], label=[nd.zeros(4)])
    mod.forward(batch, is_train=True)
    mod.backward()
    arg, aux = mod.get_params()
    assert all(type(v) is nd.NDArray for v in list(arg.values()) + list(aux.values()))
    assert all(type(v) is nd.NDArray for v in mod.get_outputs() + mod.get_input_grads())
    it = mx.io.NDArrayIter(nd.ones((6, 2)), nd.zeros(6), batch_size=4)
    pred = mod.predict(it)
    assert type(pred) is nd.NDArray and pred.shape == (6, 3)
    mod.init_optimizer()
    mod.update()                           # the optimizer works on the plain arrays
    mod.set_params(arg, aux)


# ------------------------------------------------------------------ numpy keeps working
def test_numpy_functions_take_ndarrays():
    x = nd.array([[1, 2], [3, np.nan]])
    np.testing.assert_allclose(x, x.asnumpy())
    assert np.isclose(x, 1).dtype == np.bool_ and np.allclose(x, x, equal_nan=True)
    assert x[x > 1].tolist() == [2, 3]                          # a 0/1 mask indexes as a bool one
    assert float(np.nansum(x)) == 6 and np.round(nd.array([1.26]), 1).asscalar() == np.float32(1.3)
    assert x.transpose(1, 0).shape == (2, 2) and x.sum(axis=0).shape == (2,)
    assert np.concatenate([x, x]).shape == (4, 2)
    old = x[0, 0]
    x[0, 0] = old + 1                      # a[i, j] is a copy: the numpy idiom holds
    x[0, 0] = old
    assert x[0, 0].tolist() == [1]


def test_save_load_returns_ndarrays(tmp_path):
    f = str(tmp_path / "x.params")
    nd.save(f, {"a": nd.ones((2,)), "b": np.zeros(3, np.int32)})
    got = nd.load(f)
    assert type(got["a"]) is nd.NDArray and got["b"].dtype == np.int32
    nd.save(f, nd.arange(3))
    assert nd.load(f)[0].tolist() == [0, 1, 2]
    assert mx.nd.ParamsFileError is mx.interop.nd.ParamsFileError
    assert mx.nd.loads(mx.nd.dumps([nd.ones(1)]))[0].tolist() == [1]
    assert mx.ndarray is mx.nd and mx.nd.ndarray.NDArray is mx.NDArray


def test_ndarray_basics_tutorial():
    """The lines of MXNet's "NDArray basics" tutorial (python/mxnet ... ndarray/01-ndarray-intro)."""
    a = mx.nd.array([1, 2, 3])
    b = mx.nd.array([[1, 2, 3], [2, 3, 4]])
    assert a.shape == (3,) and b.shape == (2, 3) and b.dtype == np.float32
    c = mx.nd.array([[1, 2], [3, 4]], dtype=np.int32)
    assert c.dtype == np.int32
    assert mx.nd.zeros((2, 3)).asnumpy().sum() == 0
    assert mx.nd.ones((2, 3)).asnumpy().sum() == 6
    assert mx.nd.full((2, 3), 7).asnumpy().max() == 7
    assert mx.nd.empty((2, 3)).shape == (2, 3)
    a = mx.nd.ones((2, 3))
    b = mx.nd.ones((2, 3)) * 2
    assert (a + b).asnumpy().tolist() == [[3] * 3] * 2
    assert (a * b).asnumpy().tolist() == [[2] * 3] * 2
    assert mx.nd.exp(a).asnumpy()[0, 0] == pytest.approx(np.e)
    assert mx.nd.dot(a, b.T).asnumpy().tolist() == [[6, 6], [6, 6]]
    a *= 2
    assert a.asnumpy().tolist() == [[2] * 3] * 2
    a = mx.nd.array(np.arange(6).reshape(3, 2))
    a[1:2] = 1
    assert a[:].asnumpy().tolist() == [[0, 1], [1, 1], [4, 5]]
    assert mx.nd.slice_axis(a, axis=1, begin=1, end=2).asnumpy().tolist() == [[1], [1], [5]]
    a = mx.nd.ones((2, 3))
    b = a.reshape((3, 2))
    b[:] = 5
    assert a.asnumpy().sum() == 30                                  # reshape shares memory
    a = mx.nd.ones((3, 4))
    b = mx.nd.ones((3, 4)) * 2
    c = mx.nd.concat(a, b)
    assert c.shape == (3, 8)
    a = mx.nd.ones((2, 3))
    b = mx.nd.sum(a)
    assert b.asscalar() == 6
    assert mx.nd.sum_axis(a, axis=1).asnumpy().tolist() == [3, 3]
    a = mx.nd.ones((2, 3))
    assert type(a.asnumpy()) is np.ndarray and mx.nd.array(a.asnumpy()).shape == (2, 3)
    c = a.copyto(mx.cpu())
    assert c.context == mx.cpu() and c is not a
    d = mx.nd.zeros((2, 3))
    a.copyto(d)
    assert d.asnumpy().sum() == 6
    mx.nd.waitall()
    assert "<NDArray 2x3 @cpu(0)>" in repr(a)


def test_invoke_reads_aux_states_and_names_failures():
    from symnorm.runtime.imperative import invoke
    x = nd.array([[1, 2], [3, 4]])
    mean, var = nd.array([1, 1]), nd.array([4, 4])
    y = nd.BatchNorm(x, nd.ones(2), nd.zeros(2), mean, var, fix_gamma=False, eps=1e-12)
    np.testing.assert_allclose(y.asnumpy(), (x.asnumpy() - 1) / 2, rtol=1e-6)   # moving statistics
    assert mean.tolist() == [1, 1] and var.tolist() == [4, 4]          # and never updated
    op = REGISTRY["Embedding"].create({"input_dim": 3, "output_dim": 2})
    with pytest.raises(mx.errors.DataError, match=r"forward of Embedding: index 7 .*input shapes: data=\(2,\)"):
        invoke(op, [np.array([0.0, 7.0], np.float32), np.ones((3, 2), np.float32)])
    with pytest.raises(mx.OpError, match="Embedding takes 2 inputs"):
        invoke(op, [np.ones(2, np.float32)])
    with pytest.raises(mx.DTypeError, match="input 'data' must be a numpy array"):
        invoke(op, [[0.0], np.ones((3, 2), np.float32)])


def test_mx_random_has_the_samplers():
    mx.random.seed(3)
    a = mx.random.uniform(-1, 1, shape=(2, 2))
    mx.random.seed(3)
    assert type(a) is nd.NDArray and (nd.random.uniform(-1, 1, shape=(2, 2)) == a).asnumpy().all()
    assert mx.random.normal is nd.random.normal and mx.random.randint(0, 3, shape=2).dtype == np.int32


def test_fluent_method_errors_are_mxnets_when_numpy_cannot_take_the_call_either():
    with pytest.raises(mx.ParamError, match="clip: param 'a_max' expects float"):
        nd.ones(2).clip(a_min=0, a_max="x")
    assert nd.array([-1, 2]).clip(0, None).tolist() == [0, 2]          # numpy's form


def test_every_op_name_alias_and_fluent_method_is_there():
    from symnorm.ops.fluent import FLUENT
    from symnorm.registry import ALIASES
    for name in list(REGISTRY) + list(ALIASES):
        assert callable(getattr(nd, name)), name
    for method, public in FLUENT.items():
        if public in REGISTRY or public in ALIASES:
            assert callable(getattr(nd.NDArray, method)), method
    x = nd.array([[-1.5, 2], [3, -4]])
    np.testing.assert_array_equal(x.abs(), nd.abs(x))
    np.testing.assert_array_equal(x.sum(axis=1, keepdims=True), nd.sum(x, axis=1, keepdims=True))
    np.testing.assert_array_equal(x.expand_dims(1), nd.expand_dims(x, axis=1))
    assert x.flatten().shape == (2, 2) and nd.ones((2, 3, 4)).flatten().shape == (2, 12)  # MXNet's


def test_one_element_arrays_convert_and_format_as_numbers():
    x = nd.array([[1.25, 2]])
    assert "%.1f" % x[0, 0] == "1.2" and f"{x[0, 1]:.2f}" == "2.00" and int(x[0, 1]) == 2
    assert [v.shape for v in nd.array([1, 2])] == [(1,), (1,)]       # iteration, as MXNet's


def test_ndarrayiter_batches_are_ndarrays():
    batch = next(iter(mx.io.NDArrayIter(nd.ones((4, 2)), np.zeros(4), batch_size=2)))
    assert all(type(a) is nd.NDArray for a in batch.data + batch.label)
    assert batch.data[0].asnumpy().shape == (2, 2)
