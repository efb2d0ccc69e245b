"""The registry-driven harness over every op, plus checks of the declarations themselves."""
import inspect

import numpy as np
import pytest

import symnorm as sn
from symnorm.registry import REGISTRY, ALIASES

import harness
import kernel_harness

CASES = harness.cases()
IDS = ["%s-%d" % (c[0], c[1]) for c in CASES]


def test_every_op_has_examples():
    missing = [n for n, c in REGISTRY.items() if not list(c.examples())]
    assert missing == []


@pytest.mark.parametrize("name,i,params,shapes", CASES, ids=IDS)
def test_shape_rule_matches_forward(name, i, params, shapes, rng):
    harness.check_shape_and_forward(name, params, shapes, rng, np.float32)
    harness.check_shape_and_forward(name, params, shapes, rng, np.float64)


@pytest.mark.parametrize("name,i,params,shapes", CASES, ids=IDS)
def test_shape_rule_backward_agrees_with_forward(name, i, params, shapes):
    harness.check_shape_backward(name, params, shapes)


GRAD_CASES = [c for c in CASES if REGISTRY[c[0]].differentiable
              and REGISTRY[c[0]].head_grad != "ignore" and not
              set(REGISTRY[c[0]].no_grad_inputs) >= set(REGISTRY[c[0]].inputs)]


@pytest.mark.parametrize("name,i,params,shapes", GRAD_CASES,
                         ids=["%s-%d" % (c[0], c[1]) for c in GRAD_CASES])
def test_numeric_gradient(name, i, params, shapes, rng):
    harness.check_gradient(name, params, shapes, rng)


NO_GRAD_CASES = [c for c in CASES if not REGISTRY[c[0]].differentiable]


@pytest.mark.parametrize("name,i,params,shapes", NO_GRAD_CASES,
                         ids=["%s-%d" % (c[0], c[1]) for c in NO_GRAD_CASES])
def test_an_op_declared_not_differentiable_passes_no_gradient(name, i, params, shapes, rng):
    """Its backward (the declaration's default, or its own) gives None for every argument."""
    net = harness.build(name, params, shapes)
    arg_shapes, out_shapes, aux_shapes = net.infer_shape(**shapes)
    vals = harness.random_inputs(net, REGISTRY[name], arg_shapes, rng, np.float64)
    op = net.entries[0].node.op
    args = [vals[k] for k in net.list_arguments()] + [np.ones(s) for s in aux_shapes]
    saved = op.forward(*args, train=True)[2]
    dys = [np.ones(s) for s, o in zip(out_shapes, op.output_names()) if o not in op.no_grad_outputs]
    assert op.backward(saved, *dys) == (None,) * len(op.arguments())


@pytest.mark.parametrize("name,i,params,shapes", CASES, ids=IDS)
def test_json_roundtrip(name, i, params, shapes):
    harness.check_json_roundtrip(name, params, shapes)


def test_gradient_harness_can_fail(rng):
    """A wrong backward must be caught by the numeric check (the harness is not vacuous)."""
    from symnorm.registry import Op, Result, register
    try:
        @register(name="_test_wrong_grad")
        class Wrong(Op):
            def forward(self, data, *, train):
                return Result((data * data,), saved=data)

            def backward(self, x, dy):
                return (dy * x,)          # should be 2·x·dy

            @classmethod
            def examples(cls):
                yield {}, {"data": (3,)}
        with pytest.raises(AssertionError, match="numeric gradient"):
            harness.check_gradient("_test_wrong_grad", {}, {"data": (3,)}, rng)
        assert callable(sn.sym._test_wrong_grad)         # constructors appear for new ops too
    finally:
        REGISTRY.pop("_test_wrong_grad", None)


def test_constructors_are_generated_with_docs():
    for name in list(REGISTRY) + list(ALIASES):
        fn = getattr(sn.sym, name)
        cls = REGISTRY.get(name, REGISTRY.get(ALIASES.get(name)))
        # a variadic op's input count (add_n's num_args) is set by the inputs, not documented
        assert fn.__doc__ and "Parameters" in fn.__doc__ or not [
            f for f in cls.param_fields() if f.name != cls.variadic]


def test_every_op_documents_itself():
    for name, cls in REGISTRY.items():
        assert cls.__doc__ and cls.__doc__.strip(), name


def test_declaration_checks_reject_bad_ops():
    from symnorm.registry import Op, Result, register
    with pytest.raises(TypeError, match="input slots"):
        @register(name="_test_bad_sig")
        class Bad(Op):
            inputs = ("data", "weight")

            def forward(self, data, *, train):
                return Result((data,))
    with pytest.raises(TypeError, match="unknown output"):
        @register(name="_test_bad_flag")
        class Bad2(Op):
            no_grad_outputs = ("nope",)

            def forward(self, data, *, train):
                return Result((data,))
    assert "_test_bad_sig" not in REGISTRY and "_test_bad_flag" not in REGISTRY


def test_no_module_outside_ops_lists_op_names():
    """Cross-cutting modules read the registry; they never branch on op names."""
    import symnorm.executor, symnorm.autodiff, symnorm.shape, symnorm.serialize, symnorm.graph
    for mod in (symnorm.executor, symnorm.autodiff, symnorm.shape, symnorm.serialize, symnorm.graph):
        src = inspect.getsource(mod)
        for op in ("BatchNorm", "SoftmaxOutput", "Convolution", "BlockGrad"):
            assert "'%s'" % op not in src and '"%s"' % op not in src, (mod.__name__, op)


KERNEL_CASES = kernel_harness.kernel_cases()


@pytest.mark.parametrize("k,layout,name,i,params,shapes", KERNEL_CASES,
                         ids=["%s-%d-%s-%s" % (c[2], c[3], c[0].name, c[1]) for c in KERNEL_CASES])
def test_every_kernel_equals_its_reference(k, layout, name, i, params, shapes, rng):
    kernel_harness.check_kernel(k, layout, name, params, shapes, rng)


def test_kernels_exist_where_the_layout_pass_and_lenet_need_them():
    batch_last = {c[2] for c in KERNEL_CASES if c[1] == "batch_last"}
    assert {"Convolution", "Pooling", "BatchNorm", "Activation"} <= batch_last
    standard = {c[2] for c in KERNEL_CASES if c[1] == "standard"}
    assert {"Convolution", "BatchNorm", "FullyConnected", "Activation"} <= standard


def test_training_in_place_is_declared_where_lenet_needs_it():
    from symnorm.registry import REGISTRY as R
    from symnorm.runtime.kernels import choose
    sigmoid = R["Activation"](act_type="sigmoid")
    assert choose(sigmoid).inplace_in_training_of(sigmoid)
    bn, conv = R["BatchNorm"](), R["Convolution"](kernel=(3, 3), num_filter=2)
    assert not choose(bn).keeps_output_of(bn) and not choose(conv).keeps_output_of(conv)
    pool = R["Pooling"](kernel=(2, 2), pool_type="max")
    assert choose(pool).keeps_output_of(pool)


def test_reference_kernels_on_request_train_like_the_fast_ones(monkeypatch, rng):
    """SYMNORM_KERNELS=reference runs every op with its reference (no batch-last kernels):
    a LeNet-like training step gives the fast kernels' numbers."""
    x = sn.sym.Variable("data")
    net = sn.sym.Convolution(x, kernel=(3, 3), num_filter=4, name="c")
    net = sn.sym.Activation(sn.sym.BatchNorm(net, fix_gamma=False, name="bn"), act_type="relu")
    net = sn.sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max", name="p")
    net = sn.sym.SoftmaxOutput(sn.sym.FullyConnected(net, num_hidden=3, name="fc"), name="softmax")
    runs = []
    for mode in ("", "reference"):
        monkeypatch.setenv("SYMNORM_KERNELS", mode)
        ex = net.simple_bind(sn.cpu(), data=(4, 2, 8, 8))
        kinds = {k.reference for k in ex.plan.kernels}
        assert kinds == ({True} if mode else {False, True})
        r = np.random.RandomState(3)
        for k in sorted(ex.arg_dict):
            ex.arg_dict[k][...] = r.normal(0, 1, ex.arg_dict[k].shape)
        ex.arg_dict["softmax_label"][...] = [0, 1, 2, 1]
        out = ex.forward(is_train=True)[0].copy()
        ex.backward()
        runs.append((out, {k: g.copy() for k, g in ex.grad_dict.items() if g is not None},
                     {k: a.copy() for k, a in ex.aux_dict.items()}))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-4, atol=1e-6)
    for k in runs[0][1]:
        np.testing.assert_allclose(runs[0][1][k], runs[1][1][k], rtol=1e-3, atol=1e-5, err_msg=k)
    for k in runs[0][2]:
        np.testing.assert_allclose(runs[0][2][k], runs[1][2][k], rtol=1e-4, atol=1e-6, err_msg=k)
