"""The built-in renderer on real networks (the model-zoo fixtures and LeNet-BN): no box over
another, no edge through a box other than its own two ends (curves sampled), no label wider
than its box, every node and edge drawn, inputs at the bottom as Graphviz draws MXNet's DOT."""
import gzip
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

import symnorm as sn
from test_viz import lenet_bn
from viz_geometry import NS, nodes, problems

ZOO = os.path.join(os.path.dirname(__file__), "fixtures", "modelzoo")


def zoo(name):
    with gzip.open(os.path.join(ZOO, name + "-symbol.json.gz"), "rt") as f:
        return sn.sym.load_json(f.read())


CASES = {
    "lenet_bn": (lenet_bn, (1, 1, 28, 28)),
    "resnet18_v1": (lambda: zoo("resnet18_v1"), (1, 3, 224, 224)),
    "inceptionv3": (lambda: zoo("inceptionv3"), (1, 3, 299, 299)),
    "densenet121": (lambda: zoo("densenet121"), (1, 3, 224, 224)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_builtin_svg_geometry(name, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda prog: None)     # the built-in renderer
    build, data = CASES[name]
    net = build()
    svg = sn.viz.plot_network(net, shape={"data": data}).pipe("svg").decode()
    overlaps, through, wide = problems(svg)
    assert overlaps == [] and through == [] and wide == [], (overlaps[:5], through[:5], wide[:5])
    root = ET.fromstring(svg)
    views = [v for v in sn.viz.describe(net) if v.role in ("op", "data")]
    drawn = nodes(root)
    assert set(drawn) == {v.name for v in views}
    edges = [(p.get("data-src"), p.get("data-dst")) for p in root.iter(NS + "path")
             if p.get("class") == "edge"]
    want = [(s.name, v.name) for v in views for s, _, _ in v.inputs if s.role in ("op", "data")]
    assert sorted(edges) == sorted(want)
    # each node's tooltip carries its full name, whatever the label had to shorten
    titles = {g.get("data-name"): g.find(NS + "title").text for g in root.iter(NS + "g")
              if g.get("class") == "node"}
    assert all(titles[n].startswith(n) for n in titles)
    # MXNet's orientation: every edge runs upwards, from an input to its consumer
    centre = {n: (b[1] + b[3]) / 2 for n, (b, *_) in drawn.items()}
    assert all(centre[s] > centre[d] for s, d in edges)
    assert sn.viz.svg.layout_views(views).crossings == 0      # these nets need none


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")
def test_graphviz_draws_the_same_orientation():
    import json
    import subprocess
    src = sn.viz.plot_network(zoo("resnet18_v1")).source
    out = subprocess.run(["dot", "-Tjson"], input=src.encode(), capture_output=True, check=True)
    pos = {o["name"]: float(o["pos"].split(",")[1]) for o in json.loads(out.stdout)["objects"]}
    assert pos["data"] < pos["resnetv10_dense0_fwd"]       # y grows upwards: inputs at the bottom


def test_long_names_are_wrapped_and_fit():
    name = "resnetv10_stage3_batchnorm2_fwd_and_a_much_longer_suffix_than_any_zoo_model_has_" * 3
    net = sn.sym.Activation(sn.sym.Variable("data"), act_type="relu", name=name)
    svg = sn.viz.svg.render_svg([v for v in sn.viz.describe(net) if v.role != "param"])
    assert problems(svg) == ([], [], [])


def test_geometry_checker_sees_each_fault():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" font-size="12">'
           '<g class="node" data-name="a"><rect x="0" y="0" width="100" height="40"/>'
           '<text x="50" y="24">a_label_much_too_long_for_it</text></g>'
           '<g class="node" data-name="b"><rect x="50" y="20" width="100" height="40"/></g>'
           '<g class="node" data-name="c"><rect x="0" y="200" width="100" height="40"/></g>'
           '<path class="edge" data-src="c" data-dst="x" d="M 60 200 C 60 100 60 100 60 -10"/></svg>')
    overlaps, through, wide = problems(svg)
    assert overlaps == [("a", "b")] and wide == [("a", "a_label_much_too_long_for_it")]
    assert {t[2] for t in through} == {"a", "b"}


def test_graphviz_boxes_fit_long_names():
    net = zoo("resnet18_v1")
    nodes = {}
    for line in sn.viz.plot_network(net).source.splitlines():
        if line.startswith('\t"resnetv10_stage3_batchnorm2_fwd" ['):
            nodes["bn"] = line
    assert 'label="resnetv10_stage3_\\nbatchnorm2_fwd"' in nodes["bn"]
    assert 'fixedsize="false"' in nodes["bn"]
    if shutil.which("dot"):
        import json
        import subprocess
        out = subprocess.run(["dot", "-Tjson"], input=sn.viz.plot_network(net).source.encode(),
                             capture_output=True, check=True)
        objs = {o["name"]: o for o in json.loads(out.stdout)["objects"]}
        assert float(objs["resnetv10_stage3_batchnorm2_fwd"]["width"]) > 1.3   # grown to fit


def test_op_nodes_sharing_a_name_are_drawn_as_two_boxes():
    """Only variable names must be unique; two ops named alike (a legal graph) raised a raw
    KeyError in the built-in SVG and the HTML viewer."""
    from symnorm.viz.model import describe
    from symnorm.viz.svg import render_svg
    d = sn.sym.Variable("data")
    net = sn.sym.FullyConnected(sn.sym.Activation(sn.sym.Activation(d, act_type="relu", name="act"),
                                                  act_type="relu", name="act"), num_hidden=2, name="fc")
    svg = render_svg(describe(net, {"data": (1, 3)}), shape={"data": (1, 3)})
    assert svg.count('data-name="act"') == 2
    assert sn.viz.to_html(net, shape={"data": (1, 3)}).count('data-name="act"') == 2
