"""Looking at graphs never blocked by an unknown op, and the CLI's everyday mistakes: one
line saying what is wrong and what to do, exit status 2, never a traceback."""
import gzip
import json
import os
import shutil
import sys

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym
from symnorm.__main__ import main as cli
from test_viz import lenet_bn


def with_unknown_op(tmp_path):
    """LeNet-BN's JSON with its first Activation renamed to an op symnorm lacks."""
    d = json.loads(lenet_bn().tojson())
    for n in d["nodes"]:
        if n["op"] == "Activation":
            n["op"], n["attrs"] = "FancyAct", {"alpha": "0.25", "mode": "fast"}
            break
    path = tmp_path / "old-symbol.json"
    path.write_text(json.dumps(d))
    return str(path)


def test_unknown_op_is_drawn_grey_everywhere(tmp_path, capsys):
    from symnorm.viz.opaque import load_for_view
    path = with_unknown_op(tmp_path)
    net, unknown = load_for_view(path)
    assert unknown == ["FancyAct"]
    with pytest.warns(UserWarning, match="FancyAct"):
        assert sn.viz.load(path).list_arguments() == net.list_arguments()
    text = sn.viz.print_summary(net, shape={"data": (1, 1, 28, 28)}, quiet=True)
    assert "sig1(FancyAct)" in text and "FancyAct" in text.splitlines()[-1]
    with pytest.warns(UserWarning, match="FancyAct"):
        g = sn.viz.plot_network(net, shape={"data": (1, 1, 28, 28)})
    assert 'label="FancyAct\\nalpha=0.25\\nmode=fast"' in g.source and "#d0d0d0" in g.source
    page = sn.viz.to_html(net, shape={"data": (1, 1, 28, 28)})
    assert "FancyAct" in page and 'data-name="sig1"' in page
    svg = sn.viz.svg.render_svg([v for v in sn.viz.describe(net) if v.role in ("op", "data")])
    assert "alpha=0.25" in svg
    for cmd in (["summary", path, "--shape", "data=1,1,28,28"],
                ["plot", path, "-o", str(tmp_path / "net.svg")],
                ["plot", path, "-o", str(tmp_path / "net.html")]):
        assert cli(cmd) == 0
        err = capsys.readouterr().err
        assert err.count("FancyAct") == 1 and len(err.splitlines()) == 1, err


def test_unknown_op_error_is_short():
    with pytest.raises(sn.errors.GraphError) as info:
        sn.registry.get_op("BatchNrom", "bn1")
    msg = str(info.value)
    assert "BatchNorm" in msg and "bn1" in msg and len(msg) < 250
    assert "Convolution" not in msg                       # not the whole registry


@pytest.fixture
def ckpt(tmp_path):
    net = sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc")
    prefix = str(tmp_path / "m")
    net.save(prefix + "-symbol.json")
    sn.nd.save(prefix + "-0000.params", {"arg:fc_weight": np.ones((3, 4), np.float32),
                                         "arg:fc_bias": np.zeros(3, np.float32)})
    np.save(str(tmp_path / "x.npy"), np.ones((2, 4), np.float32))
    return prefix


def _bad(tmp_path, ckpt):
    gz = tmp_path / "g-symbol.json.gz"
    with gzip.open(gz, "wt") as f:
        f.write(open(ckpt + "-symbol.json").read())
    return {"PARAMS": ckpt + "-0000.params", "GZ": str(gz), "NODIR": str(tmp_path / "no" / "net.svg"),
            "NODIR_NPY": str(tmp_path / "no" / "y.npy"), "PREFIX": ckpt,
            "X": str(tmp_path / "x.npy"), "DIR": str(tmp_path)}


@pytest.mark.parametrize("args,msg", [
    (["summary", "PARAMS"], "not a graph"),
    (["summary", "GZ"], "gunzip"),
    (["plot", "PREFIX", "-o", "NODIR"], "does not exist"),
    (["predict", "PREFIX", "0", "--input", "X", "-o", "NODIR_NPY"], "does not exist"),
    (["summary", "DIR"], "is a folder"),
    (["summary", "PREFIX", "--shape", "dat=2,4"], "check --shape"),
    (["summary", "PREFIX", "--sahpe", "data=2,4"], "unrecognized arguments"),
])
def test_cli_everyday_mistakes_are_one_line(tmp_path, ckpt, capsys, args, msg):
    names = _bad(tmp_path, ckpt)
    args = [names.get(a, a) for a in args]
    try:
        status = cli(args)
    except SystemExit as exc:           # argparse's own exit on a misspelled flag
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and msg in err and "Traceback" not in err, err
    assert len([l for l in err.splitlines() if l.startswith("symnorm")]) == 1, err


def test_cli_takes_a_prefix_or_a_symbol_file(tmp_path, ckpt, capsys):
    assert cli(["summary", ckpt, "--shape", "data=2,4"]) == 0
    assert "fc(FullyConnected)" in capsys.readouterr().out
    assert cli(["plot", ckpt, "-o", str(tmp_path / "p.dot")]) == 0
    assert cli(["predict", ckpt + "-symbol.json", "0", "--input", str(tmp_path / "x.npy")]) == 0
    assert "argmax" in capsys.readouterr().out


def test_summary_without_shapes_says_how_to_get_them(ckpt, capsys):
    assert cli(["summary", ckpt]) == 0
    assert "--shape data=" in capsys.readouterr().err


def test_summary_fits_a_narrow_terminal(monkeypatch, capsys):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(shutil, "get_terminal_size", lambda *a: os.terminal_size((80, 24)))
    sn.viz.print_summary(lenet_bn(), shape={"data": (1, 1, 28, 28)})
    out = capsys.readouterr().out
    assert max(len(l) for l in out.splitlines()) <= 80
