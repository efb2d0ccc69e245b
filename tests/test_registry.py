"""The registry-driven harness over every op, plus checks of the declarations themselves."""
import inspect

import numpy as np
import pytest

import symnorm as sn
from symnorm.registry import REGISTRY, ALIASES

import harness

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


TWIN_CASES = [c for c in CASES if harness.has_batch_last(c[0], c[2], c[3])]


@pytest.mark.parametrize("name,i,params,shapes", TWIN_CASES, ids=["%s-%d" % c[:2] for c in TWIN_CASES])
def test_batch_last_twin_computes_the_same(name, i, params, shapes, rng):
    assert harness.check_batch_last(name, params, shapes, rng)


def test_batch_last_twins_exist_where_the_layout_pass_needs_them():
    assert {"Convolution", "Pooling", "BatchNorm", "Activation"} <= {c[0] for c in TWIN_CASES}


@pytest.mark.parametrize("name,i,params,shapes", CASES, ids=IDS)
def test_training_in_place_declarations_hold(name, i, params, shapes, rng):
    harness.check_training_aliasing(name, params, shapes, rng)


def test_training_in_place_is_declared_where_lenet_needs_it():
    from symnorm.registry import REGISTRY as R
    assert R["Activation"](act_type="sigmoid").inplace_in_training()
    assert not R["BatchNorm"]().keeps_output() and not R["Convolution"](kernel=(3, 3), num_filter=2).keeps_output()
    assert R["Pooling"](kernel=(2, 2), pool_type="max").keeps_output()
