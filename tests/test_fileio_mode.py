"""Files written through the atomic writer get the user's umask, like open() would."""
import os

import numpy as np
import pytest

import symnorm as sn
from symnorm.fileio import atomic_write


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path):
    return os.stat(path).st_mode & 0o777


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_atomic_write_follows_umask(tmp_path, umask_022):
    atomic_write(tmp_path / "a.txt", "x")
    atomic_write(tmp_path / "b.bin", b"x")
    assert _mode(tmp_path / "a.txt") == 0o644 and _mode(tmp_path / "b.bin") == 0o644
    os.umask(0o077)
    atomic_write(tmp_path / "c.txt", "x")
    assert _mode(tmp_path / "c.txt") == 0o600
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.bin", "c.txt"]     # no temp left


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saved_graph_params_and_pictures_are_readable_by_others(tmp_path, umask_022):
    net = sn.sym.FullyConnected(sn.sym.Variable("data"), num_hidden=2, name="fc")
    net.save(str(tmp_path / "net-symbol.json"))
    sn.nd.save(str(tmp_path / "net-0000.params"), {"arg:fc_bias": np.zeros(2, np.float32)})
    g = sn.viz.plot_network(net)
    g.save(str(tmp_path / "net.gv"))
    sn.viz.to_html(net, path=str(tmp_path / "net.html"))
    for name in os.listdir(tmp_path):
        assert _mode(tmp_path / name) == 0o644, name
