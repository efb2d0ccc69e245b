"""MXNet-compatible symbol JSON: ``tojson`` writes MXNet 1.9.1's text byte for byte, and
``load_json`` reads it back, along with files written by older MXNet versions.

Layout (nnvm's ``SaveJSON``): ``nodes`` in DFS post-order, each ``{"op", "name", "attrs"
(omitted when empty, keys sorted), "inputs": [[node_id, output_index, version]]}`` where
version is 1 for an input the op mutates (aux states); ``arg_nodes`` lists every variable,
aux included; ``node_row_ptr`` is the prefix sum of each node's *total* output count;
``heads`` the outputs; ``attrs.mxnet_version = ["int", 10901]``.  The text follows dmlc's
JSON writer: 2-space indent, ``", "`` separators, arrays of more than 10 numbers and arrays
of objects on several lines, objects with one key on one line.
"""
from __future__ import annotations

import json

from .dims import check_shape
from .dtype import as_dtype
from .errors import GraphError, ParamError, SymnormError, where
from .fileio import atomic_write
from .graph import lint
from .ir import Entry, Node, dfs_postorder
from .params import Shape, parse_value
from .registry import ALIASES, REGISTRY, get_op
from .shape import is_np_shape

MXNET_VERSION = 10901

# User attributes that MXNet < 0.9.4 wrote without the double underscores.
_LEGACY_HIDDEN = ("ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage")


# ------------------------------------------------------------------ writer

class _DmlcWriter:
    """The subset of dmlc::JSONWriter that nnvm's SaveJSON uses."""

    def __init__(self):
        self.out = []
        self.multi = []
        self.count = []

    def sep(self):
        if not self.multi or self.multi[-1]:
            self.out.append("\n" + " " * (2 * len(self.multi)))

    def begin(self, ch, multi):
        self.out.append(ch)
        self.multi.append(multi)
        self.count.append(0)

    def end(self, ch):
        newline, n = self.multi.pop(), self.count.pop()
        if newline and n:
            self.sep()
        self.out.append(ch)

    def key(self, k):
        if self.count[-1]:
            self.out.append(", ")
        self.sep()
        self.out.append(json.dumps(k, ensure_ascii=False) + ": ")
        self.count[-1] += 1

    def item(self):
        if self.count[-1]:
            self.out.append(", ")
        self.count[-1] += 1
        self.sep()

    def value(self, v):
        if isinstance(v, dict):
            self.begin("{", len(v) > 1)
            for k in v:
                self.key(k)
                self.value(v[k])
            self.end("}")
        elif isinstance(v, _Row):
            self.begin("[", False)
            for x in v.items:
                self.item()
                self.value(x)
            self.end("]")
        elif isinstance(v, list):
            pod = all(isinstance(x, (int, str, _Row)) for x in v)
            self.begin("[", len(v) > 10 or not pod)
            for x in v:
                self.item()
                self.value(x)
            self.end("]")
        elif isinstance(v, _Obj):
            self.begin("{", True)
            for k, x in v.items:
                self.key(k)
                self.value(x)
            self.end("}")
        else:
            self.out.append(json.dumps(v, ensure_ascii=False))


class _Row:
    """A fixed single-line array (an input entry ``[nid, index, version]``)."""
    def __init__(self, items):
        self.items = items


class _Obj:
    """A multi-line object with ordered keys (a node, the graph)."""
    def __init__(self, items):
        self.items = items


def to_dict(symbol) -> dict:
    """The JSON structure as plain Python data (what ``json.loads(tojson())`` gives)."""
    return json.loads(tojson(symbol))


def tojson(symbol) -> str:
    """MXNet 1.9.1's ``Symbol.tojson()`` text for ``symbol``."""
    nodes = dfs_postorder(symbol.entries)
    ids = {n: i for i, n in enumerate(nodes)}
    jnodes, row_ptr = [], [0]
    for n in nodes:
        items = [("op", "null" if n.is_variable else n.op.op_name), ("name", n.name)]
        if n.attrs:
            items.append(("attrs", {k: n.attrs[k] for k in sorted(n.attrs)}))
        aux = set(n.aux_slots())
        items.append(("inputs", [_Row([ids[e.node], e.index, 1 if i in aux else 0])
                                 for i, e in enumerate(n.inputs)]))
        jnodes.append(_Obj(items))
        row_ptr.append(row_ptr[-1] + n.num_outputs())
    graph = _Obj([("nodes", jnodes),
                  ("arg_nodes", [ids[n] for n in nodes if n.is_variable]),
                  ("node_row_ptr", row_ptr),
                  ("heads", [_Row([ids[e.node], e.index, 0]) for e in symbol.entries]),
                  ("attrs", _graph_attrs())])
    w = _DmlcWriter()
    w.value(graph)
    return "".join(w.out)


def _graph_attrs() -> dict:
    # MXNet marks a graph saved under NumPy shape semantics, so that a reader knows its
    # __shape__ attributes use -1 (not 0) for an unknown dim
    attrs = {"mxnet_version": _Row(["int", MXNET_VERSION])}
    if is_np_shape():
        attrs = {"is_np_shape": _Row(["int", 1]), **attrs}
    return attrs


def _saved_as_np_shape(doc) -> bool:
    """Whether the graph says it was saved under NumPy shape semantics (``is_np_shape``)."""
    flag = doc.get("attrs", {}).get("is_np_shape") if isinstance(doc.get("attrs"), dict) else None
    if isinstance(flag, list) and len(flag) == 2:
        flag = flag[1]
    try:
        return bool(int(flag)) if flag is not None else False
    except (TypeError, ValueError):
        return False


def legacy_shape_to_np(text: str) -> str:
    """A legacy ``__shape__`` value in NumPy shape semantics, as MXNet rewrites it when a
    graph saved without them is loaded with them on: ``(128, 0)`` -> ``[128,-1]``, the
    unknown shape ``()`` -> ``None``.  Text that is not a legacy shape is left alone."""
    try:
        shape = parse_value(Shape, text)
    except ValueError:
        return text
    if len(shape) == 0:
        return "None"
    return "[%s]" % ",".join(str(-1 if d == 0 else d) for d in shape)


def save(symbol, fname: str) -> None:
    """Write ``symbol.tojson()`` to ``fname`` atomically."""
    atomic_write(fname, tojson(symbol))


# ------------------------------------------------------------------ reader

def _short(v, limit=80) -> str:
    """``repr(v)`` cut short: an error must not echo a megabyte of JSON back."""
    text = repr(v)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


def _entry(raw, where_text, n_built):
    if not isinstance(raw, (list, tuple)) or not 2 <= len(raw) <= 3 or \
            not all(isinstance(x, int) and not isinstance(x, bool) for x in raw):
        raise GraphError("%s: malformed input entry %s (expected [node_id, output_index, version])"
                         % (where_text, _short(raw)))
    nid, idx = raw[0], raw[1]
    if not 0 <= nid < n_built:
        raise GraphError("%s: input refers to node %d, which is not an earlier node (0..%d): a "
                         "dangling reference or a cycle" % (where_text, nid, n_built - 1))
    return nid, idx


def parse_json(json_str: str, unknown_op=None) -> list:
    """The head entries of a graph in MXNet symbol JSON (1.x ``attrs``, 0.x
    ``attr``/``param``), every node built and linted; ``symbol.load_json`` wraps them in
    a ``Symbol``.

    Unknown ops, unknown or invalid params, dangling inputs, cycles and duplicate variable
    names raise errors naming the node; nothing half-built is returned.  For viewing only
    (``symnorm.viz``), ``unknown_op(op_name, n_inputs, n_outputs)`` instead makes a
    placeholder op for an op not in the registry (its attributes kept on the node).
    """
    try:
        doc = json.loads(json_str)
    except (TypeError, ValueError) as exc:
        raise GraphError("malformed symbol JSON: %s" % exc) from None
    except RecursionError:
        # "[[[[..." deeper than Python's stack: no symbol JSON nests more than 4 levels
        raise GraphError("malformed symbol JSON: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list) or "heads" not in doc:
        raise GraphError("malformed symbol JSON: expected an object with 'nodes' and 'heads'")
    if not isinstance(doc["heads"], list):
        raise GraphError("malformed symbol JSON: 'heads' must be a list of [node_id, "
                         "output_index, version], got %s" % _short(doc["heads"]))
    # a graph saved in legacy semantics, read with NumPy semantics on: MXNet rewrites its
    # variables' __shape__ (0 = unknown dim there, a zero-size dim here)
    to_np = is_np_shape() and not _saved_as_np_shape(doc)
    built: list[Node] = []
    used = None                 # node id -> highest output index used (placeholders only)
    for nid, jn in enumerate(doc["nodes"]):
        if not isinstance(jn, dict) or "op" not in jn or "name" not in jn:
            raise GraphError("malformed symbol JSON: node %d needs 'op' and 'name', got %s"
                             % (nid, _short(jn)))
        for key in ("op", "name"):
            if not isinstance(jn[key], str):
                raise GraphError("malformed symbol JSON: node %d: %r must be a string, got %s"
                                 % (nid, key, _short(jn[key])))
        if unknown_op is not None and jn["op"] != "null" and (
                (jn["op"] not in REGISTRY and jn["op"] not in ALIASES)
                or not get_op(jn["op"]).available(_raw_attrs(jn))):
            if used is None:
                used = _outputs_used(doc)
            built.append(_placeholder_node(nid, jn, built, used.get(nid, 0) + 1, unknown_op))
            continue
        built.append(_load_node(nid, jn, built, to_np))
    heads = []
    for raw in doc["heads"]:
        nid, idx = _entry(raw, "heads", len(built))
        if not 0 <= idx < built[nid].num_outputs():
            raise GraphError("heads: node %r has no output %d" % (built[nid].name, idx))
        heads.append(Entry(built[nid], idx))
    if not heads:
        raise GraphError("malformed symbol JSON: 'heads' is empty")
    lint(heads)
    return heads


def _outputs_used(doc) -> dict:
    """node id -> the highest output index any later node or head reads (one pass)."""
    out = {}
    refs = [r for n in doc["nodes"] if isinstance(n, dict)
            for r in (n.get("inputs") or []) if isinstance(n.get("inputs"), list)]
    for r in refs + [r for r in doc["heads"]]:
        if isinstance(r, list) and len(r) >= 2 and isinstance(r[0], int) and isinstance(r[1], int):
            out[r[0]] = max(out.get(r[0], 0), r[1])
    return out


def _placeholder_node(nid, jn, built, n_out, unknown_op) -> Node:
    """A node of an op not in the registry, for viewing, with ``n_out`` outputs (as many
    as the graph reads)."""
    text = "node %d (%r)" % (nid, jn["name"])
    inputs = []
    for raw in jn.get("inputs", []):
        src, idx = _entry(raw, text, nid)
        if not 0 <= idx < built[src].num_outputs():
            raise GraphError("%s: input refers to output %d of node %r, which has %d"
                             % (text, idx, built[src].name, built[src].num_outputs()))
        inputs.append(Entry(built[src], idx))
    return Node(unknown_op(str(jn["op"]), len(inputs), n_out), str(jn["name"]), tuple(inputs),
                _raw_attrs(jn))


def _raw_attrs(jn) -> dict:
    """A JSON node's attributes as strings (all spellings merged, newest winning)."""
    attrs = {}
    for key in ("param", "attr", "attrs"):
        part = jn.get(key) or {}
        if isinstance(part, dict):
            attrs.update({str(k): str(v) for k, v in part.items()})
    return attrs


def _load_node(nid, jn, built, to_np=False) -> Node:
    name, op_name = jn["name"], jn["op"]
    text = "node %d (%r)" % (nid, name)
    attrs = {}
    for key in ("param", "attr", "attrs"):      # oldest first: newer spellings win
        part = jn.get(key) or {}
        if not isinstance(part, dict):
            raise GraphError("%s: %r must be an object, got %s" % (text, key, _short(part)))
        for k, v in part.items():
            # MXNet writes every value as a string; a number or bool reads the same way
            if not isinstance(v, (str, int, float)):
                raise GraphError("%s: attribute %r must be a string, got %s"
                                 % (text, k, _short(v)))
        attrs.update({str(k): str(v) for k, v in part.items()})
    raw_inputs = jn.get("inputs", [])
    if not isinstance(raw_inputs, list):
        raise GraphError("%s: 'inputs' must be a list of [node_id, output_index, version], "
                         "got %s" % (text, _short(raw_inputs)))
    if op_name == "null":
        if raw_inputs:
            raise GraphError("%s: a variable cannot have inputs" % text)
        _check_variable_attrs(text, attrs)
        if to_np and "__shape__" in attrs:
            attrs["__shape__"] = legacy_shape_to_np(attrs["__shape__"])
        return Node(None, name, (), attrs)
    cls = get_op(op_name, name)
    field_names = {f.name for f in cls.param_fields()} | \
        {f.metadata.get("alias") for f in cls.param_fields() if f.metadata.get("alias")}
    params, node_attrs = {}, {}
    for k, v in attrs.items():
        if k in field_names:
            params[k] = v
            node_attrs[k] = v
        elif k.startswith("__") and k.endswith("__"):
            node_attrs[k] = v
        elif k in _LEGACY_HIDDEN:
            node_attrs["__%s__" % k] = v
        elif cls.extra_params:              # Custom: its prop's constructor arguments
            params[k] = v
            node_attrs[k] = v
        else:
            raise ParamError("%s: cannot find argument %r; the parameters of %s are: %s"
                             % (where(op_name, name), k, op_name,
                                ", ".join(sorted(f for f in field_names if f))))
    if cls.variadic and cls.variadic not in params:
        params[cls.variadic] = str(len(raw_inputs))
    op = cls.create(params, name)
    inputs = []
    for raw in raw_inputs:
        src, idx = _entry(raw, text, nid)
        if not 0 <= idx < built[src].num_outputs():
            raise GraphError("%s: input refers to output %d of node %r, which has %d"
                             % (text, idx, built[src].name, built[src].num_outputs()))
        inputs.append(Entry(built[src], idx))
    slots = op.input_names()
    n_args = len(op.arguments())
    if len(inputs) == n_args and op.aux:
        # MXNet < 0.9 stored no aux variables: add them as MXNet's upgrader does
        for a in op.aux:
            init = {"__init__": op.aux_init_attr(a)} if op.aux_init_attr(a) else {}
            inputs.append(Entry(Node(None, "%s_%s" % (name, a), (), init), 0))
    if len(inputs) != len(slots):
        raise GraphError("%s: %s takes %d inputs (%s), the JSON gives %d"
                         % (text, op_name, len(slots), ", ".join(slots), len(inputs)))
    return Node(op, name, tuple(inputs), node_attrs)


def _check_variable_attrs(text, attrs) -> None:
    """Parse the attributes symnorm reads from a variable now, so that a bad one fails at
    load naming the node, not later inside shape inference or the optimizer."""
    for key, value in attrs.items():
        try:
            if key == "__shape__":
                # NumPy-semantics spellings: "None" (unknown shape), -1 (unknown dim)
                if value.strip() != "None":
                    check_shape(tuple(0 if d == -1 else d for d in parse_value(Shape, value)),
                                "shape")
            elif key == "__dtype__":
                as_dtype(value, "dtype")
            elif key in ("__lr_mult__", "__wd_mult__", "lr_mult", "wd_mult"):
                float(value)
            elif key == "__init__" and value.strip().startswith("["):
                spec = json.loads(value)
                if not (isinstance(spec, list) and len(spec) == 2 and isinstance(spec[0], str)
                        and isinstance(spec[1], dict)):
                    raise ValueError("expected '[\"name\", {kwargs}]'")
        except (ValueError, RecursionError, SymnormError) as exc:
            raise GraphError("%s: attribute %r = %s is invalid: %s"
                             % (text, key, _short(value), exc)) from None


def read(fname: str, unknown_op=None) -> list:
    """The head entries of a symbol JSON file (``prefix-symbol.json``); see ``parse_json``
    (``unknown_op``: its placeholder hook, for viewing)."""
    try:
        with open(fname, "rb") as f:
            raw = f.read()
    except (OSError, TypeError, ValueError) as exc:
        raise GraphError("cannot read symbol file %r: %s"
                         % (fname, getattr(exc, "strerror", None) or exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = ("it is gzip-compressed: gunzip it first" if raw[:2] == b"\x1f\x8b"
                else "is this a .params file?")
        raise GraphError("%s: not UTF-8 text (byte 0x%02X at offset %d); a symbol file is "
                         "JSON (%s)" % (fname, raw[exc.start], exc.start, hint)) from None
    try:
        return parse_json(text, unknown_op)
    except SymnormError as exc:
        raise type(exc)("%s: %s" % (fname, exc)) from None


__all__ = ["tojson", "parse_json", "save", "read", "to_dict"]
