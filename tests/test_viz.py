"""print_summary, plot_network, the SVG fallback, the HTML page, networkx export, the CLI."""
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

import symnorm as sn
from symnorm import sym
from symnorm.__main__ import main as cli

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "mxnet-fixtures")
TINY = os.path.join(SHARED, "tiny-symbol.json")
has_tiny = pytest.mark.skipif(not os.path.exists(TINY), reason="../shared/mxnet-fixtures not present")


def lenet_bn():
    s = sym
    net = s.Variable("data")
    net = s.Convolution(net, kernel=(5, 5), num_filter=6, name="conv1")
    net = s.BatchNorm(net, fix_gamma=False, name="bn1")
    net = s.Activation(net, act_type="sigmoid", name="sig1")
    net = s.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool1")
    net = s.Convolution(net, kernel=(5, 5), num_filter=16, name="conv2")
    net = s.BatchNorm(net, fix_gamma=False, name="bn2")
    net = s.Activation(net, act_type="sigmoid", name="sig2")
    net = s.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool2")
    net = s.FullyConnected(s.Flatten(net, name="flat"), num_hidden=120, name="fc1")
    net = s.BatchNorm(net, fix_gamma=False, name="bn3")
    net = s.Activation(net, act_type="sigmoid", name="sig3")
    net = s.FullyConnected(net, num_hidden=84, name="fc2")
    net = s.BatchNorm(net, fix_gamma=False, name="bn4")
    net = s.Activation(net, act_type="sigmoid", name="sig4")
    net = s.FullyConnected(net, num_hidden=10, name="fc3")
    return s.SoftmaxOutput(net, name="softmax")


@has_tiny
def test_summary_reproduces_mxnet_table():
    text = sn.viz.print_summary(sym.load(TINY), shape={"data": (2, 1, 4, 4)}, quiet=True)
    ref = open(os.path.join(SHARED, "print_summary.txt")).read().rstrip("\n")
    assert text.startswith(ref)
    assert text.splitlines()[-4:-1] == ["Trainable params: 95", "Aux states: 8",
                                        "Total params + aux states: 103"]


def test_summary_counts_lenet_bn():
    text = sn.viz.print_summary(lenet_bn(), shape={"data": (1, 1, 28, 28)}, quiet=True)
    conv = 6 * 25 + 6 + 16 * 6 * 25 + 16
    fc = 16 * 4 * 4 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10
    bn = 2 * (6 + 16 + 120 + 84)
    assert "Total params: %d" % (conv + fc + bn) in text
    assert "Aux states: %d" % bn in text
    assert "bn3(BatchNorm)" in text and "240" in text.split("bn3(BatchNorm)")[1].splitlines()[0]


def test_summary_batchnorm_on_last_axis_is_counted_right():
    net = sym.BatchNorm(sym.Variable("data"), axis=-1, name="bn")
    text = sn.viz.print_summary(net, shape={"data": (4, 7, 5)}, quiet=True)
    row = [l for l in text.splitlines() if l.startswith("bn(BatchNorm)")][0]
    assert row.split()[2] == "10"          # 2 x 5 channels (MXNet would say 2 x 7)


def test_summary_prints_once_and_returns_none_like_mxnet(capsys):
    net = sym.Variable("x") + 1
    assert sn.viz.print_summary(net) is None            # a REPL shows the table once
    assert capsys.readouterr().out.strip() == sn.viz.print_summary(net, quiet=True).strip()


def _parse_dot(src):
    nodes, edges = {}, []
    for line in src.splitlines()[1:-1]:
        line = line.strip()
        head, _, attrs = line.partition(" [")
        pairs = dict(p.split("=", 1) for p in _split_attrs(attrs.rstrip("]")))
        if " -> " in head:
            a, b = head.split(" -> ")
            edges.append((a.strip('"'), b.strip('"'), pairs))
        else:
            nodes[head.strip('"')] = pairs
    return nodes, edges


def _split_attrs(text):
    out, cur, q = [], "", False
    for ch in text:
        if ch == '"' and not cur.endswith("\\"):
            q = not q
        if ch == " " and not q:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return [o for o in out if "=" in o]


def test_plot_network_labels_colours_and_edges():
    g = sn.viz.plot_network(lenet_bn(), shape={"data": (1, 1, 28, 28)})
    nodes, edges = _parse_dot(g.source)
    ops = [n for n in nodes if n not in ("data", "softmax_label")]
    assert len(ops) == 17 and "conv1_weight" not in nodes and "bn1_moving_var" not in nodes
    assert nodes["conv1"]["label"] == '"Convolution\\n5x5/1, 6"'
    assert nodes["conv1"]["fillcolor"] == '"#fb8072"'
    assert nodes["bn1"]["fillcolor"] == '"#bebada"' and nodes["bn1"]["label"] == '"bn1"'
    assert nodes["sig1"]["label"] == '"Activation\\nsigmoid"'
    assert nodes["pool1"]["label"] == '"Pooling\\navg, 2x2/2x2"'
    assert nodes["data"]["shape"] == '"oval"'
    assert ("conv1", "data", {"label": '"1x28x28"', "arrowtail": '"open"', "dir": '"back"'}) in edges
    assert ("fc1", "flat", {"label": '"256"', "arrowtail": '"open"', "dir": '"back"'}) in edges


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")
def test_plot_network_dot_parses_with_graphviz():
    import json
    import subprocess
    src = sn.viz.plot_network(lenet_bn(), shape={"data": (1, 1, 28, 28)}).source
    out = subprocess.run(["dot", "-Tjson"], input=src.encode(), capture_output=True, check=True)
    g = json.loads(out.stdout)
    assert len(g["objects"]) == 19 and len(g["edges"]) == 18


def test_show_weights_draws_aux_distinctly():
    src = sn.viz.plot_network(lenet_bn(), hide_weights=False).source
    nodes, _ = _parse_dot(src)
    assert nodes["bn1_moving_mean"]["style"] == '"filled,dashed"'
    assert nodes["conv1_weight"]["style"] == '"filled"'


def test_svg_fallback_is_valid_xml_with_every_node(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)      # as on a machine without dot
    g = sn.viz.plot_network(lenet_bn(), shape={"data": (1, 1, 28, 28)})
    root = ET.fromstring(g.pipe("svg"))
    names = {el.get("data-name") for el in root.iter("{http://www.w3.org/2000/svg}g")}
    assert {"conv1", "bn4", "softmax", "data"} <= names
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        g.pipe("png")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")
def test_png_and_pdf_with_dot(tmp_path):
    g = sn.viz.plot_network(lenet_bn(), shape={"data": (1, 1, 28, 28)})
    assert g.pipe("png")[:8] == b"\x89PNG\r\n\x1a\n"
    out = g.render(str(tmp_path / "net"), format="pdf")
    assert open(out, "rb").read(4) == b"%PDF"


def test_html_is_self_contained(tmp_path):
    path = tmp_path / "net.html"
    page = sn.viz.to_html(lenet_bn(), shape={"data": (1, 1, 28, 28)}, path=str(path))
    assert path.read_text() == page
    assert "<script src" not in page and "http" not in page.replace("http://www.w3.org", "")
    assert '["bn1", {"op": "BatchNorm"' in page and '"param_count": 12' in page


def test_viz_to_networkx_has_counts():
    g = sn.viz.to_networkx(lenet_bn(), shape={"data": (1, 1, 28, 28)})
    assert g.nodes["bn1"]["param_count"] == 12 and g.nodes["bn1"]["aux_count"] == 12
    assert g.nodes["bn1_moving_mean"]["role"] == "aux"
    assert g.nodes["conv1_weight"]["role"] == "param" and g.nodes["data"]["role"] == "data"


# ------------------------------------------------------------------ CLI

@pytest.fixture
def graph_file(tmp_path):
    p = tmp_path / "lenet-symbol.json"
    lenet_bn().save(str(p))
    return str(p)


def test_cli_summary(graph_file, capsys):
    assert cli(["summary", graph_file, "--shape", "data=1,1,28,28"]) == 0
    assert "conv1(Convolution)" in capsys.readouterr().out


@pytest.mark.parametrize("ext", ["svg", "dot", "html"])
def test_cli_plot(graph_file, tmp_path, ext):
    out = tmp_path / ("net." + ext)
    assert cli(["plot", graph_file, "--shape", "data=1,1,28,28", "-o", str(out)]) == 0
    assert out.stat().st_size > 100


@pytest.mark.parametrize("args,msg", [
    (["summary", "/nope.json"], "no such file"),
    (["summary", "GRAPH", "--shape", "data"], "malformed --shape"),
    (["summary", "GRAPH", "--shape", "data=1,a"], "malformed --shape"),
    (["plot", "GRAPH", "-o", "x.bmp"], "unsupported output"),
    (["summary", "BAD"], "malformed symbol JSON"),
])
def test_cli_errors(graph_file, tmp_path, capsys, args, msg):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    args = [graph_file if a == "GRAPH" else str(bad) if a == "BAD" else a for a in args]
    assert cli(args) == 2
    assert msg in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless browser installed")
def test_html_in_a_real_browser(tmp_path):
    import subprocess
    path = tmp_path / "net.html"
    sn.viz.to_html(lenet_bn(), shape={"data": (1, 1, 28, 28)}, path=str(path))
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--user-data-dir=%s" % (tmp_path / "profile"), "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", "--dump-dom", path.as_uri() + "#node=bn1"],
        capture_output=True, text=True, timeout=120)
    dom = out.stdout
    views = [v for v in sn.viz.describe(lenet_bn(), {"data": (1, 1, 28, 28)}) if v.role in ("op", "data")]
    for v in views:                                            # every visible node is drawn
        assert 'data-name="%s"' % v.name in dom
    assert "<td>op</td><td>BatchNorm</td>" in dom              # the script ran: details shown
    assert "<td>aux states</td><td>12</td>" in dom
    console = [l for l in out.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    assert console == [], console


def test_summary_column_follows_mxnet_and_footer_counts_every_op():
    net = sym.LayerNorm(sym.FullyConnected(sym.Variable("data"), num_hidden=6, name="fc"), name="ln")
    text = sn.viz.print_summary(net, shape={"data": (2, 4)}, quiet=True)
    row = [l for l in text.splitlines() if l.startswith("ln(LayerNorm)")][0]
    assert row.split()[2] == "0"                              # MXNet's column: LayerNorm counts 0
    assert "Total params: 30" in text                         # fc: (4 + 1) * 6
    assert "Trainable params: 42" in text                     # + LayerNorm's gamma and beta
