"""The package's shape: no import circles (function-level imports included) and layers that
import only downwards: core < ops < runtime < interop < train < viz < the top level."""
import ast
import os

import networkx as nx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "symnorm")
RANK = {"core": 0, "ops": 1, "runtime": 2, "interop": 3, "train": 4, "viz": 5}
# Known exceptions, each with its reason; the list may only shrink.
ALLOWED_UPWARD = {
    # Symbol.bind/simple_bind are MXNet's methods: the user's handle calls the runtime
    ("symnorm.core.symbol", "symnorm.runtime.executor"),
    # mx.sym is the op constructors' namespace: importing it registers the ops
    ("symnorm.core.sym", "symnorm.ops"),
    # the fast kernels still live beside the declarations and split work over the thread
    # pool (runtime.parallel); the runtime redesign moves them into runtime/
    ("symnorm.ops._np", "symnorm.runtime.parallel"), ("symnorm.ops._np", "symnorm.runtime.allocator"),
    ("symnorm.ops._bnkernel", "symnorm.runtime.parallel"),
    ("symnorm.ops.conv", "symnorm.runtime.parallel"), ("symnorm.ops.dense", "symnorm.runtime.parallel"),
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
