"""The Symbol API: variables, naming, lists, indexing, composition, attributes, operators."""
import copy
import json

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym


def test_variable_attributes_are_mxnet_strings():
    v = sym.Variable("w", shape=(2, 3), lr_mult=2, wd_mult=0.5, dtype="float64",
                     init='["one", {}]', attr={"__mood__": "ok"}, __extra__=3)
    assert v.attr("__shape__") == "(2, 3)"
    # MXNet 1.9.1 stores str() of what was given: lr_mult=2 is '2' (measured)
    assert v.attr("__lr_mult__") == "2" and v.attr("lr_mult") == "2"
    assert v.attr("__wd_mult__") == "0.5"
    assert v.attr("__dtype__") == "1"            # MXNet's float64 flag
    assert v.attr("__init__") == '["one", {}]'
    assert v.attr("__mood__") == "ok" and v.attr("__extra__") == "3"
    assert v.list_attr()["lr_mult"] == "2"
    node = json.loads(v.tojson())["nodes"][0]
    assert "lr_mult" not in node["attrs"] and node["attrs"]["__lr_mult__"] == "2"
    assert sym.var is sym.Variable


def test_variable_errors():
    with pytest.raises(TypeError, match="string for variable"):
        sym.Variable(3)
    with pytest.raises(ValueError, match="double underscores"):
        sym.Variable("x", mood="bad")
    with pytest.raises(sn.DTypeError):
        sym.Variable("x", dtype="nonsense")


def test_shape_and_dtype_attributes_feed_inference():
    x = sym.Variable("x", shape=(4, 3), dtype="float64")
    fc = sym.FullyConnected(x, num_hidden=2, name="fc")
    args, outs, _ = fc.infer_shape()
    assert args == [(4, 3), (2, 3), (2,)] and outs == [(4, 2)]
    targs, _, _ = fc.infer_type()
    assert targs == [np.float64] * 3


def test_auto_names_and_prefix():
    with sn.name.NameManager():
        x = sym.Variable("x")
        assert sym.BatchNorm(x).name == "batchnorm0"
        assert sym.BatchNorm(x).name == "batchnorm1"
        assert (x + x).name == "_plus0"
        assert (x + 1).name == "_plusscalar0"
        assert (1 - x).name == "_rminusscalar0"
        assert (-x).name == "_mulscalar0"
        assert sym.flatten(x).name == "flatten0" and sym.Flatten(x).name == "flatten1"
        with sn.name.NameManager():
            assert sym.BatchNorm(x).name == "batchnorm0"     # fresh counters inside
        assert sym.BatchNorm(x).name == "batchnorm2"         # outer counters restored
    with sn.name.Prefix("net_"):
        fc = sym.FullyConnected(sym.Variable("d"), num_hidden=2, name="fc")
        auto = sym.FullyConnected(sym.Variable("d"), num_hidden=2)
    assert fc.name == "net_fc" and fc.list_arguments() == ["d", "net_fc_weight", "net_fc_bias"]
    assert auto.name == "net_fullyconnected0"


def test_explicit_params_copied_onto_auto_variables():
    bn = sym.BatchNorm(sym.Variable("data"), name="bn", eps=1e-5, momentum=0.99,
                       fix_gamma=False, axis=-1)
    ad = bn.attr_dict()
    assert ad["bn"] == {"eps": "1e-05", "momentum": "0.99", "fix_gamma": "False", "axis": "-1"}
    assert ad["bn_gamma"] == ad["bn"]
    assert ad["bn_moving_mean"]["__init__"] == '["zero", {}]'
    assert ad["bn_moving_var"]["__init__"] == '["one", {}]'
    assert "data" not in ad
    assert bn.attr("eps") == "1e-05" and bn.attr("nope") is None


def test_user_variable_as_aux_gets_init_unless_it_has_one():
    mm = sym.Variable("mm")
    mv = sym.Variable("mv", init='["constant", {"value": 2}]')
    bn = sym.BatchNorm(sym.Variable("x"), moving_mean=mm, moving_var=mv, name="bn")
    assert bn.list_auxiliary_states() == ["mm", "mv"]
    assert mm.attr("__init__") == '["zero", {}]'
    assert mv.attr("__init__") == '["constant", {"value": 2}]'


def test_lists_follow_mxnet_dfs_order():
    data = sym.Variable("data")
    dfs = sym.FullyConnected(data, weight=sym.Variable("w"), bias=sym.Variable("b"),
                             num_hidden=2, name="f") + sym.Variable("z2") * sym.Variable("a1")
    assert dfs.list_arguments() == ["data", "w", "b", "z2", "a1"]
    mixed = sym.Variable("q") + sym.BatchNorm(sym.Variable("r"), name="bnq")
    assert mixed.list_inputs() == ["q", "r", "bnq_gamma", "bnq_beta", "bnq_moving_mean",
                                   "bnq_moving_var"]
    assert mixed.list_auxiliary_states() == ["bnq_moving_mean", "bnq_moving_var"]


def test_outputs_indexing_iteration_internals_children():
    bn = sym.BatchNorm(sym.Variable("x"), output_mean_var=True, name="bn")
    assert len(bn) == 3 and bn.name == "bn"
    assert bn.list_outputs() == ["bn_output", "bn_mean", "bn_var"]
    assert bn[1].list_outputs() == ["bn_mean"] and bn["bn_var"].list_outputs() == ["bn_var"]
    assert [s.list_outputs()[0] for s in bn] == bn.list_outputs()
    assert bn[-1].list_outputs() == ["bn_var"]
    with pytest.raises(IndexError):
        bn[3]
    with pytest.raises(ValueError, match="Cannot find output"):
        bn["nope"]
    with pytest.raises(TypeError):
        bn[1.5]
    internals = bn.get_internals()
    assert internals.list_outputs()[-3:] == ["bn_output", "bn_mean", "bn_var"]
    assert bn.get_children().list_outputs() == ["x", "bn_gamma", "bn_beta", "bn_moving_mean",
                                                "bn_moving_var"]
    assert sym.Variable("v").get_children() is None
    g = sym.Group([bn[0], sym.Variable("y")])
    assert g.name is None and g.list_outputs() == ["bn_output", "y"]
    with pytest.raises(TypeError):
        sym.Group([])


def test_composition_replaces_free_variables_and_keeps_original():
    data = sym.Variable("data")
    net = sym.FullyConnected(data, num_hidden=3, name="fc")
    inner = sym.Activation(sym.Variable("x"), act_type="relu", name="act")
    composed = net(data=inner)
    assert composed.name == "fc"
    assert composed.list_arguments() == ["x", "fc_weight", "fc_bias"]
    assert net.list_arguments() == ["data", "fc_weight", "fc_bias"]   # original unchanged
    with pytest.raises(sn.GraphError, match="bogus"):
        net(bogus=inner)
    with pytest.raises(TypeError, match="kwargs"):
        net(inner)


def test_copy_is_structural_and_independent():
    net = sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc")
    c = copy.deepcopy(net)
    assert c.tojson() == net.tojson()
    c._set_attr(__mood__="happy")
    assert net.attr("__mood__") is None and c.attr("__mood__") == "happy"
    with pytest.raises(sn.ParamError, match="num_hidden"):
        c._set_attr(num_hidden="4")


def test_text_listing_names_ops_params_and_aux():
    bn = sym.BatchNorm(sym.Variable("data"), fix_gamma=False, eps=1e-5, name="bn0")
    text = str(bn)
    assert "%bn0 = BatchNorm[eps=1e-05, fix_gamma=False](%data, %bn0_gamma, %bn0_beta | aux: " \
           "%bn0_moving_mean, %bn0_moving_var)" in text
    assert repr(bn) == "<Symbol bn0>"
    assert bn.debug_str() == text


@pytest.mark.parametrize("expr,op,attrs", [
    (lambda a, b: a + b, "elemwise_add", None), (lambda a, b: a - b, "elemwise_sub", None),
    (lambda a, b: a * b, "elemwise_mul", None), (lambda a, b: a / b, "elemwise_div", None),
    (lambda a, b: a + 2, "_plus_scalar", {"scalar": "2"}),
    (lambda a, b: 2.0 + a, "_plus_scalar", {"scalar": "2.0"}),
    (lambda a, b: a - 3, "_minus_scalar", {"scalar": "3"}),
    (lambda a, b: 3 - a, "_rminus_scalar", {"scalar": "3"}),
    (lambda a, b: a * 4, "_mul_scalar", {"scalar": "4"}),
    (lambda a, b: a / 4, "_div_scalar", {"scalar": "4"}),
    (lambda a, b: 1.0 / a, "_rdiv_scalar", {"scalar": "1.0"}),
    (lambda a, b: -a, "_mul_scalar", {"scalar": "-1.0"}),
    (lambda a, b: a ** 2, "_power_scalar", {"scalar": "2"}),
    (lambda a, b: 2 ** a, "_rpower_scalar", {"scalar": "2"}),
    (lambda a, b: a ** b, "_power", None), (lambda a, b: a % b, "_mod", None),
    (lambda a, b: a % 2, "_mod_scalar", {"scalar": "2"}),
    (lambda a, b: abs(a), "abs", None),
    (lambda a, b: a == b, "_equal", None), (lambda a, b: a > 1, "_greater_scalar", {"scalar": "1"}),
    (lambda a, b: a <= b, "_lesser_equal", None), (lambda a, b: a != 0, "_not_equal_scalar", {"scalar": "0"}),
])
def test_operator_overloading_maps_to_mxnet_ops(expr, op, attrs):
    s = expr(sym.Variable("a"), sym.Variable("b"))
    node = json.loads(s.tojson())["nodes"][-1]
    assert node["op"] == op
    assert node.get("attrs") == attrs


def test_operator_values():
    a, b = sym.Variable("a"), sym.Variable("b")
    g = sym.Group([a ** 2, 2 ** a, a % b, a > b, abs(a), a ** b])
    av = np.array([[1.5, -2.0]], np.float32)
    bv = np.array([[1.0, 3.0]], np.float32)
    ex = g.simple_bind(sn.cpu(), a=(1, 2), b=(1, 2))
    outs = ex.forward(a=av, b=bv)
    np.testing.assert_allclose(outs[0], av ** 2)
    np.testing.assert_allclose(outs[1], 2 ** av)
    np.testing.assert_allclose(outs[2], np.mod(av, bv))
    np.testing.assert_allclose(outs[3], [[1, 0]])
    np.testing.assert_allclose(outs[4], np.abs(av))


def test_symbol_has_no_truth_value_but_stays_hashable():
    a = sym.Variable("a")
    with pytest.raises(TypeError, match="bool.*not implemented for Symbol"):
        bool(a == a)
    assert len({a, a}) == 1


def test_param_validation_names_op_node_param_and_range():
    x = sym.Variable("x")
    with pytest.raises(sn.ParamError, match=r"BatchNorm 'bn': param 'momentum' must be in \[0.0, 1.0\], got 1.5"):
        sym.BatchNorm(x, momentum=1.5, name="bn")
    with pytest.raises(sn.ParamError, match="eps"):
        sym.BatchNorm(x, eps=0)
    with pytest.raises(sn.ParamError, match="required parameter 'num_hidden'"):
        sym.FullyConnected(x)
    with pytest.raises(sn.ParamError, match="cannot find argument 'mood'"):
        sym.BatchNorm(x, mood=1)
    with pytest.raises(sn.ParamError, match="valid values are"):
        sym.Activation(x, act_type="foo")
    with pytest.raises(sn.ParamError, match="kernel"):
        sym.Convolution(x, kernel=(3, 3, 3, 3), num_filter=2)
    with pytest.raises(sn.ParamError, match="num_filter"):
        sym.Convolution(x, kernel=(3, 3), num_filter=0)
    with pytest.raises(sn.ParamError, match="stride"):
        sym.Convolution(x, kernel=(3, 3), stride=(1, 1, 1), num_filter=2)
    with pytest.raises(sn.ParamError, match="'p' must be in"):
        sym.Dropout(x, p=1.5)
    with pytest.raises(sn.ParamError, match="expects bool"):
        sym.BatchNorm(x, fix_gamma="maybe")
    with pytest.raises(sn.ParamError, match="dunder"):
        sym.BatchNorm(x, attr={"mood": "x"})
    with pytest.raises(sn.ParamError, match="kernel"):
        sym.Pooling(x)


def test_inputs_errors():
    x = sym.Variable("x")
    bn = sym.BatchNorm(x, output_mean_var=True)
    with pytest.raises(sn.GraphError, match="single output"):
        sym.FullyConnected(bn, num_hidden=2)
    with pytest.raises(sn.GraphError, match="aux state"):
        sym.BatchNorm(x, moving_mean=x + 1)
    with pytest.raises(sn.ParamError, match="given twice"):
        sym.FullyConnected(x, data=x, num_hidden=2)
    with pytest.raises(TypeError, match="must be a Symbol"):
        sym.FullyConnected(3, num_hidden=2)


def test_attr_scope():
    with sn.AttrScope(ctx_group="dev1", __lr_mult__="0.5"):
        v = sym.Variable("w")
        fc = sym.FullyConnected(v, num_hidden=2, name="fc")
    assert v.attr("ctx_group") == "dev1" and v.attr("lr_mult") == "0.5"
    assert fc.attr("ctx_group") == "dev1"
    assert sym.Variable("z").attr("ctx_group") is None


def test_networkx_export_is_a_multigraph_with_metadata():
    x = sym.Variable("x")
    bn = sym.BatchNorm(x + x, name="bn")
    g = sn.graph.to_networkx(bn, shapes={"x": (2, 3)})
    assert g.number_of_edges("x", "_plus0") == 2
    assert g.nodes["bn"]["op"] == "BatchNorm"
    assert g.nodes["bn"]["params"]["eps"] == 1e-3
    assert g.nodes["bn_moving_var"]["is_aux"] and not g.nodes["bn_gamma"]["is_aux"]
    assert g.nodes["bn"]["output_shapes"] == [(2, 3), (3,), (3,)]
    assert {d["slot_name"] for _, _, d in g.in_edges("bn", data=True)} == \
        {"data", "gamma", "beta", "moving_mean", "moving_var"}


def test_constant_symbols():
    x = sym.Variable("x")
    net = x + sym.ones((2, 3)) * 2 + sym.zeros((2, 3)) + sym.full((2, 3), 0.5)
    ex = net.simple_bind(sn.cpu(), x=(2, 3))
    np.testing.assert_allclose(ex.forward(x=np.ones((2, 3)))[0], 3.5)
    ex.forward(is_train=True)
    ex.backward([np.ones((2, 3))])
    np.testing.assert_allclose(ex.grad_dict["x"], 1)
    a = sym.arange(2, 7, 2)
    assert a.infer_shape()[1] == [(3,)]
    np.testing.assert_array_equal(a.simple_bind(sn.cpu()).forward()[0], [2, 4, 6])
