"""symnorm.allocator: freed arrays are reused by malloc instead of faulted in again."""
import os
import subprocess
import sys

import numpy as np
import pytest

import symnorm as sn
from symnorm import allocator, sym

glibc = pytest.mark.skipif(allocator._glibc() is None, reason="no glibc mallopt here")
kept = pytest.mark.skipif(os.environ.get("SYMNORM_MALLOC", "").lower() == "system",
                          reason="SYMNORM_MALLOC=system leaves malloc alone")
resource = pytest.importorskip("resource")


def _faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@glibc
@kept
def test_a_repeated_forward_with_large_arrays_faults_no_pages_in():
    x = sym.Variable("data")
    net = sym.Activation(x * 2 + 1, act_type="relu") * 3     # fresh 48 MB arrays at every op
    ex = net.simple_bind(sn.cpu(), grad_req="null", data=(3, 1 << 22))
    assert allocator.keep_freed_memory()
    ex.inplace = False                                         # every op allocates its output
    for _ in range(2):
        ex.forward()
    before = _faults()
    for _ in range(3):
        ex.forward()
    assert _faults() - before < 300          # SYMNORM_MALLOC=system: ~6,400 in 3 forwards


@glibc
@kept
def test_release_buffers_gives_memory_back_and_the_setting_is_idempotent():
    assert allocator.keep_freed_memory() and allocator.keep_freed_memory()
    sn.release_buffers()                                       # malloc_trim: must not fail


@glibc
def test_symnorm_malloc_system_leaves_malloc_alone():
    code = ("import symnorm as sn; from symnorm import allocator; "
            "sn.sym.Variable('x').simple_bind(sn.cpu(), x=(2,)); print(allocator._applied)")
    env = dict(os.environ, SYMNORM_MALLOC="system")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_binding_changes_no_malloc_setting_unless_asked(monkeypatch):
    """Process-wide malloc tuning is opt-in: binding, reshaping and running executors leave
    malloc alone; SYMNORM_KEEP_FREED_MEMORY=1 (or calling keep_freed_memory) asks for it."""
    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

        def malloc_trim(self, pad):
            return 1
    monkeypatch.setattr(allocator, "_libc", FakeLibc())
    monkeypatch.setattr(allocator, "_applied", False)
    monkeypatch.delenv("SYMNORM_KEEP_FREED_MEMORY", raising=False)
    monkeypatch.delenv("SYMNORM_MALLOC", raising=False)
    net = sym.Activation(sym.Variable("x") * 2, act_type="relu")
    ex = net.simple_bind(sn.cpu(), x=(2, 3))
    ex.forward(is_train=True)
    ex.backward(np.ones((2, 3)))
    ex.reshape(x=(1, 3)).forward()
    net.bind(sn.cpu(), args={"x": np.zeros((2, 3), np.float32)}).forward()
    assert calls == [] and not allocator._applied
    monkeypatch.setenv("SYMNORM_KEEP_FREED_MEMORY", "1")
    net.simple_bind(sn.cpu(), x=(2, 3))
    assert calls == [(allocator.M_MMAP_THRESHOLD, allocator.MMAP_THRESHOLD),
                     (allocator.M_TRIM_THRESHOLD, allocator.TRIM_THRESHOLD)]
    assert allocator._applied
