"""The package's shape: no import circles (function-level imports included) and layers that
import only downwards: core < ops < runtime < interop < ndarray < train < viz < the top level."""
import ast
import os

import networkx as nx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "symnorm")
RANK = {"core": 0, "ops": 1, "runtime": 2, "interop": 3, "ndarray": 4, "train": 5, "viz": 6}
# Known exceptions, each with its reason; the list may only shrink.
ALLOWED_UPWARD = {
    # Symbol.bind/simple_bind are MXNet's methods: the user's handle calls the runtime
    ("symnorm.core.symbol", "symnorm.runtime.executor"),
    # mx.sym is the op constructors' namespace: importing it registers the ops
    ("symnorm.core.sym", "symnorm.ops"),
}


def _modules():
    out = {}
    for d, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(d, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                out[name[:-9] if name.endswith(".__init__") else name] = path
    return out


def _imports(modules):
    """(importer, imported module) for every relative import, wherever it stands."""
    for name, path in modules.items():
        package = name.split(".") if path.endswith("__init__.py") else name.split(".")[:-1]
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
                for alias in node.names:
                    full = base + "." + alias.name
                    yield name, full if full in modules else base


def _layer(name):
    parts = name.split(".")
    return RANK.get(parts[1], 9) if len(parts) > 1 and parts[1] in RANK else 9


def test_no_import_circles():
    modules = _modules()
    g = nx.DiGraph((a, b) for a, b in _imports(modules)
                   if b in modules and a != b and not modules[b].endswith("__init__.py"))
    assert list(nx.simple_cycles(g)) == []


def test_layers_import_only_downwards():
    upward = sorted({(a, b) for a, b in _imports(_modules())
                     if _layer(b) > _layer(a) and _layer(b) != 9 and (a, b) not in ALLOWED_UPWARD})
    assert upward == []


# ----------------------------------------------------------------- file sizes
MAX_LINES = 520
# files allowed to be longer, each with its reason; the list may only shrink
ALLOWED_LONG: dict = {}


def test_no_file_is_over_the_size_limit():
    long = sorted("%s (%d lines)" % (rel, n) for rel, n in
                  ((os.path.relpath(p, ROOT), sum(1 for _ in open(p))) for p in _modules().values())
                  if n > MAX_LINES and rel.replace(os.sep, "/") not in ALLOWED_LONG)
    assert long == []


# ----------------------------------------------------------------- no op named outside ops/
# Only ops/ (and, later, the runtime's kernels) may name a specific op: everything else
# reads what it needs from the op declarations.  What modules must name today, each with
# its reason (an op name or alias as a string literal, or an imported ops module; None:
# any); the list may only shrink.
ALLOWED_OP_NAMES = {
    # a + b is elemwise_add named _plus<k>, a + 2 is _plus_scalar...: MXNet's mapping of
    # Python's operators onto ops is part of the Symbol API
    "symnorm/core/symbol_operators.py": None,
    # sym.zeros/ones/full/arange are MXNet's wrappers of these ops; sym.maximum/minimum/
    # power/pow MXNet's wrappers choosing the array or the scalar op
    "symnorm/core/sym.py": {"_zeros", "_ones", "_full", "_arange", "maximum", "minimum", "power",
                            "_maximum", "_minimum", "_power", "_maximum_scalar",
                            "_minimum_scalar", "_power_scalar", "_rpower_scalar"},
    # words that happen to equal an op name or alias but do not name the op:
    "symnorm/runtime/parallel.py": {"split"},     # the thread-local "work is split" flag
    "symnorm/train/module.py": {"reshape"},       # Module.reshape names itself in messages
    "symnorm/train/initializer.py": {"min", "max"},   # parameter name suffixes (*_min, *_max)
    "symnorm/viz/dot.py": {"dot"},                # Graphviz's format and program
    "symnorm/train/io.py": {"pad"},               # NDArrayIter's last_batch_handle='pad'
}
NO_OP_NAMES = ("core", "runtime", "train", "viz", "interop")
# ONNX export and import translate op by op: their tables are where ops are named; the
# runtime's kernels are registered per op (how each op runs fast)
TRANSLATORS = ("symnorm/interop/onnx/", "symnorm/runtime/kernels/")


def _docstrings(tree):
    return {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _op_names_used(modules, op_names):
    """(file, line, what) for each op name or ops module named in the checked layers."""
    for name, path in sorted(modules.items()):
        if (name.split(".") + [""])[1] not in NO_OP_NAMES:
            continue
        rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
        if rel.startswith(TRANSLATORS):
            continue
        tree = ast.parse(open(path).read())
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and node.value in op_names and id(node) not in docs):
                yield rel, node.lineno, node.value
    for importer, imported in _imports(modules):
        rel = os.path.relpath(modules[importer], ROOT).replace(os.sep, "/")
        if (importer.split(".") + [""])[1] in NO_OP_NAMES and imported.startswith("symnorm.ops.") \
                and not rel.startswith(TRANSLATORS):
            yield rel, 0, imported


def test_no_module_outside_ops_names_an_op():
    from symnorm.registry import ALIASES, REGISTRY
    found = ["%s:%d names %r" % (rel, line, what) for rel, line, what in
             _op_names_used(_modules(), set(REGISTRY) | set(ALIASES))
             if rel not in ALLOWED_OP_NAMES or
             (ALLOWED_OP_NAMES[rel] is not None and what not in ALLOWED_OP_NAMES[rel])]
    assert found == []
