"""Checkpoint sets (symbol + .params + .states) stay one consistent set through a kill -9
or a failing write at any moment: what loads is the set before the save or the one it
wrote, never a mix; a set changed behind symnorm's back is refused naming the file."""
import os
import random
import signal
import time

import numpy as np
import pytest

import symnorm as sn
from symnorm import sym

MOMENTUM = {"learning_rate": 0.1, "momentum": 0.9}


def net():
    out = sym.FullyConnected(sym.Variable("data"), num_hidden=4, name="fc1")
    out = sym.BatchNorm(out, fix_gamma=False, name="bn")
    return sym.SoftmaxOutput(sym.FullyConnected(out, num_hidden=3, name="fc2"), name="softmax")


def trained_module():
    """A bound module with optimizer states for every parameter (one SGD step taken)."""
    mod = sn.Module(net())
    mod.bind([("data", (6, 5))], [("softmax_label", (6,))])
    mod.init_params()
    mod.init_optimizer(optimizer="sgd", optimizer_params=MOMENTUM)
    batch = sn.io.DataBatch([np.ones((6, 5), np.float32)], [np.zeros(6, np.float32)])
    mod.forward_backward(batch)
    mod.update()
    return mod


def stamp(mod, n):
    """Make every array of ``mod``'s next checkpoint set (parameters, aux states,
    optimizer states and counts, and an attribute of the graph) say ``n``."""
    arg, aux = mod.get_params()
    mod.set_params({k: np.full(v.shape, n, v.dtype) for k, v in arg.items()},
                   {k: np.full(v.shape, n, v.dtype) for k, v in aux.items()})
    for st in mod._states.values():
        for a in st if isinstance(st, tuple) else (st,):
            a[...] = n
    for i in list(mod._optimizer._index_update_count):
        mod._optimizer._index_update_count[i] = n
    mod._symbol._set_attr(__save__=str(n))


def stamps_loaded(prefix, epoch):
    """Every save counter ``Module.load(load_optimizer_states=True)`` gives back, by
    where it came from."""
    mod = sn.Module.load(prefix, epoch, load_optimizer_states=True)
    seen = {"symbol": {int(mod.symbol.attr("__save__"))}}
    mod.bind([("data", (6, 5))], [("softmax_label", (6,))])
    mod.init_params()
    mod.init_optimizer(optimizer="sgd", optimizer_params=MOMENTUM)
    arg, aux = mod.get_params()
    for k, v in {**arg, **aux}.items():
        seen[k] = set(np.unique(v).tolist())
    for i, st in mod._states.items():
        seen["state %d" % i] = set(np.unique(st).tolist())
    seen["counts"] = set(mod._optimizer._index_update_count.values())
    return seen


def stamps_on_disk(prefix, epoch):
    """The same, read straight from the files (what MXNet would read)."""
    seen = {"symbol.json": {int(sn.sym.load("%s-symbol.json" % prefix).attr("__save__"))}}
    for ext in ("params", "states"):
        for k, v in sn.nd.load("%s-%04d.%s" % (prefix, epoch, ext)).items():
            seen["%s %s" % (ext, k)] = set(np.unique(v).tolist())
    return seen


def one_save(seen):
    return set().union(*seen.values())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill_9_during_checkpoint_saves_leaves_one_consistent_set(tmp_path):
    """A process re-saving one checkpoint set (graph, params, optimizer states; every array
    carries the save's counter) is SIGKILLed at random moments; each time, what
    Module.load(load_optimizer_states=True) returns and what the files hold afterwards come
    from one save.  The next save of the prefix removes the killed saves' temp files."""
    prefix = str(tmp_path / "ck")
    mod = trained_module()
    stamp(mod, 1)
    started = time.perf_counter()
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    span = 3 * (time.perf_counter() - started)      # a kill lands anywhere in ~3 saves
    rng = random.Random(0)
    counter, mixed = 1, []
    for trial in range(20):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                                 # the child: save until killed
            try:
                os.close(r)
                n = counter
                while True:
                    n += 1
                    stamp(mod, n)
                    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
                    if n == counter + 1:
                        os.write(w, b"1")
            finally:
                os._exit(1)
        os.close(w)
        os.read(r, 1)                                # one whole save done: now kill at random
        time.sleep(rng.uniform(0, span))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        loaded = stamps_loaded(prefix, 1)
        disk = stamps_on_disk(prefix, 1)
        if len(one_save(loaded)) != 1 or len(one_save(disk)) != 1:
            mixed.append((trial, loaded, disk))
        counter = max(one_save(loaded) | one_save(disk)) + 1
    assert not mixed, "%d of 20 kills left a mixed set; first: %s" % (len(mixed), mixed[0])
    stamp(mod, counter)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    assert sorted(os.listdir(tmp_path)) == ["ck-0001.manifest", "ck-0001.params",
                                            "ck-0001.states", "ck-symbol.json"]


def snapshot(directory):
    return {p: open(os.path.join(directory, p), "rb").read() for p in sorted(os.listdir(directory))}


def restore(directory, files):
    for p in os.listdir(directory):
        os.unlink(os.path.join(directory, p))
    for p, data in files.items():
        with open(os.path.join(directory, p), "wb") as f:
            f.write(data)


def test_a_failing_write_fsync_or_rename_at_any_step_leaves_the_old_set_or_the_new(
        tmp_path, monkeypatch):
    """The k-th os.write/os.fsync/os.replace of a save raises ENOSPC, for every k: the save
    raises; before its commit the directory is byte for byte what it was (the old set, no
    temp files), after it what loads is the new set, and loading leaves no temp files."""
    import errno
    prefix = str(tmp_path / "ck")
    mod = trained_module()
    stamp(mod, 1)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    old = snapshot(tmp_path)
    calls = {"n": 0, "fail_at": None}
    real = {name: getattr(os, name) for name in ("write", "fsync", "replace")}

    def failing(name):
        def call(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == calls["fail_at"]:
                raise OSError(errno.ENOSPC, "No space left on device (injected at call %d, "
                                            "os.%s)" % (calls["n"], name))
            return real[name](*args, **kwargs)
        return call
    for name in real:
        monkeypatch.setattr(os, name, failing(name))
    stamp(mod, 2)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)      # count the calls
    total, outcomes = calls["n"], set()
    assert total >= 6
    for k in range(1, total + 1):
        restore(tmp_path, old)
        calls.update(n=0, fail_at=k)
        try:
            mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
            raised = False
        except OSError as exc:
            assert "injected" in str(exc)
            raised = True
        calls["fail_at"] = None
        loaded, disk = stamps_loaded(prefix, 1), stamps_on_disk(prefix, 1)
        assert len(one_save(loaded)) == 1 and one_save(loaded) == one_save(disk), \
            "failure at call %d: a mixed set %s / on disk %s" % (k, loaded, disk)
        assert raised or one_save(loaded) == {2}, k
        if raised and one_save(loaded) == {1}:
            assert snapshot(tmp_path) == old, "failure at call %d left something behind" % k
        assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], k
        outcomes.add((raised, one_save(loaded).pop()))
    assert outcomes >= {(True, 1), (True, 2)}        # failed before and after the commit
