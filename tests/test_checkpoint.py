"""Checkpoint sets (symbol + .params + .states) stay one consistent set through a kill -9
or a failing write at any moment: what loads is the set before the save or the one it
wrote, never a mix; a set changed behind symnorm's back is refused naming the file."""
import json
import os
import random
import re
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


def by_save(seen):
    """``{save counter: [where it was found]}``: a readable account of a mixed set."""
    out = {}
    for where, counters in seen.items():
        for n in counters:
            out.setdefault(int(n), []).append(where)
    return out


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill_9_during_checkpoint_saves_leaves_one_consistent_set(tmp_path):
    """A process re-saving one checkpoint set (graph, params, optimizer states; every array
    carries the save's counter) is SIGKILLed at random moments.  After every other kill,
    what Module.load(load_optimizer_states=True) returns and what the files hold once it
    returned come from one save; the kills in between leave their debris to the next
    process's save (killed in turn, maybe while finishing it).  The last save of the prefix
    leaves no temp file behind."""
    prefix = str(tmp_path / "ck")
    mod = trained_module()
    stamp(mod, 1)
    started = time.perf_counter()
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    span = 3 * (time.perf_counter() - started)      # a kill lands anywhere in ~3 saves
    rng = random.Random(0)
    mixed = []
    for trial in range(20):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                                 # the child: save until killed
            try:
                os.close(r)
                os.write(w, b"1")
                n = (trial + 1) * 100000             # every save of every child: its own n
                while True:
                    n += 1
                    stamp(mod, n)
                    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
            finally:
                os._exit(1)
        os.close(w)
        os.read(r, 1)
        time.sleep(rng.uniform(0, span))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        if trial % 2:
            continue                                 # the next save meets what this kill left
        loaded = stamps_loaded(prefix, 1)
        disk = stamps_on_disk(prefix, 1)
        if len(one_save(loaded)) != 1 or one_save(disk) != one_save(loaded):
            mixed.append("kill %d: loaded %s; on disk %s" % (trial, by_save(loaded), by_save(disk)))
    assert not mixed, "%d of 10 checks found a mixed set; first: %s" % (len(mixed), mixed[0])
    stamp(mod, 7)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    assert sorted(os.listdir(tmp_path)) == ["ck-0001.manifest", "ck-0001.params",
                                            "ck-0001.states", "ck-symbol.json"]
    assert one_save(stamps_loaded(prefix, 1)) == {7}


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
    """The k-th os.open/write/fsync/replace of a save raises ENOSPC, for every k: the save
    raises; before its commit the directory is byte for byte what it was (the old set, no
    temp files), after it what loads is the new set, and loading leaves no temp files."""
    import errno
    prefix = str(tmp_path / "ck")
    mod = trained_module()
    stamp(mod, 1)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    old = snapshot(tmp_path)
    calls = {"n": 0, "fail_at": None}
    real = {name: getattr(os, name) for name in ("open", "write", "fsync", "replace")}

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


def test_a_set_changed_behind_symnorms_back_is_refused_naming_the_file(tmp_path):
    """A file of a set replaced by another save's, an optimizer-states file left from an
    earlier save, a corrupt manifest: each refused with CheckpointError naming the file and
    the manifest.  Without a manifest (MXNet's checkpoint) the files load unchecked.  The
    files themselves are the bytes the per-file writers produce (what MXNet reads)."""
    prefix = str(tmp_path / "ck")
    mod = trained_module()
    for n in (1, 2):
        stamp(mod, n)
        mod.save_checkpoint(prefix, n, save_optimizer_states=True)
    sn.model.save_params(str(tmp_path / "plain.params"), *mod.get_params())
    assert (tmp_path / "ck-0002.params").read_bytes() == (tmp_path / "plain.params").read_bytes()
    assert (tmp_path / "ck-symbol.json").read_text() == mod.symbol.tojson()
    good = snapshot(tmp_path)

    (tmp_path / "ck-0001.params").write_bytes(good["ck-0002.params"])
    for load in (lambda: sn.model.load_checkpoint(prefix, 1), lambda: sn.Module.load(prefix, 1)):
        with pytest.raises(sn.CheckpointError, match=r"checkpoint .*ck-0001 is not one consistent "
                           r"set: .*ck-0001.params differs .*ck-0001.manifest recorded"):
            load()
    restore(tmp_path, good)
    (tmp_path / "ck-0001.states").write_bytes(good["ck-0002.states"])
    sn.Module.load(prefix, 1)                        # the states are not read
    with pytest.raises(sn.CheckpointError, match=r"ck-0001.states differs"):
        sn.Module.load(prefix, 1, load_optimizer_states=True)
    restore(tmp_path, good)
    mod.save_checkpoint(prefix, 1)                   # epoch 1 again, without states
    with pytest.raises(sn.CheckpointError, match=r"ck-0001.states is not part of checkpoint "
                       r".*ck-0001: .*ck-0001.manifest records a set saved without optimizer"):
        sn.Module.load(prefix, 1, load_optimizer_states=True)
    (tmp_path / "ck-0001.manifest").write_text("{\"format\": 1")
    with pytest.raises(sn.CheckpointError, match=r"ck-0001.manifest: not a readable checkpoint "
                                                 r"manifest.*delete it"):
        sn.model.load_checkpoint(prefix, 1)
    restore(tmp_path, good)
    doc = json.loads(good["ck-0001.manifest"])
    assert '"3"' in doc["symbol_json"]
    doc["symbol_json"] = doc["symbol_json"].replace('"3"', '"4"')
    (tmp_path / "ck-0001.manifest").write_text(json.dumps(doc))
    with pytest.raises(sn.CheckpointError, match=r"ck-0001.manifest: the graph it keeps does not "
                                                 r"match the sha256"):
        sn.model.load_checkpoint(prefix, 1)
    (tmp_path / "ck-0001.manifest").write_text("[]")
    with pytest.raises(sn.CheckpointError, match=r"ck-0001.manifest: not a symnorm checkpoint"):
        sn.model.load_checkpoint(prefix, 1)
    restore(tmp_path, good)                          # no manifest: loaded as MXNet's, unchecked
    os.unlink(tmp_path / "ck-0001.manifest")
    (tmp_path / "ck-0001.params").write_bytes(good["ck-0002.params"])
    assert one_save(stamps_loaded(prefix, 1)) == {1, 2}


def test_an_older_epoch_keeps_its_own_graph_when_a_later_save_rewrites_it(tmp_path, caplog):
    """The graph file is shared by a prefix's epochs: after a save with a new graph, an
    older epoch loads with the graph it was saved with (its manifest keeps it) and a
    warning says the file changed; the same graph saved again changes nothing."""
    prefix = str(tmp_path / "ck")
    arg = {"fc_weight": np.ones((3, 5), np.float32), "fc_bias": np.zeros(3, np.float32)}
    small = sym.FullyConnected(sym.Variable("data"), num_hidden=3, name="fc")
    sn.model.save_checkpoint(prefix, 1, small, arg, {})
    same, _, _ = sn.model.load_checkpoint(prefix, 1)
    sn.model.save_checkpoint(prefix, 2, same, arg, {})
    with caplog.at_level("WARNING", logger="symnorm"):
        sn.model.load_checkpoint(prefix, 1)
    assert not caplog.records
    wide = sym.FullyConnected(sym.Variable("data"), num_hidden=7, name="fc")
    sn.model.save_checkpoint(prefix, 3, wide, {"fc_weight": np.ones((7, 5)), "fc_bias": np.zeros(7)}, {})
    with caplog.at_level("WARNING", logger="symnorm"):
        old, old_arg, _ = sn.model.load_checkpoint(prefix, 1)
    assert old.tojson() == small.tojson() and old_arg["fc_weight"].shape == (3, 5)
    assert re.search(r"ck-symbol.json no longer holds the graph saved with epoch 1 \(a later save "
                     r"rewrote it\); loading that epoch's own graph, kept in .*ck-0001.manifest",
                     caplog.text)
    new, _, _ = sn.model.load_checkpoint(prefix, 3)
    assert new.tojson() == wide.tojson()


def test_the_next_save_finishes_or_removes_what_a_killed_save_left_and_only_that(
        tmp_path, monkeypatch):
    """A save whose renames failed after its commit is rolled forward by the next save of
    the prefix (another epoch), without a load in between; stale temps of any epoch are
    removed; files that merely look like ours are not touched."""
    prefix = str(tmp_path / "ck")
    mod = trained_module()
    stamp(mod, 1)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    decoys = [".ck-symbol.json.abc123.tmp", ".ck2-0001.params.0001.symnorm-tmp",
              ".ck-0001.params.0002.symnorm-tmp", "ck-0001.params.0001.symnorm-tmp",
              ".ck-0001.params.0001.symnorm-tmp.bak", "notes.txt"]
    for name in decoys:
        (tmp_path / name).write_text("not symnorm's")
    stale = [".ck-0007.params.0007.symnorm-tmp", ".ck-symbol.json.0007.symnorm-tmp",
             ".ck-0007.manifest.0007.symnorm-tmp", ".ck-0003.states.k2_x9q0z.tmp"]
    for name in stale:
        (tmp_path / name).write_bytes(b"half a file")
    real_replace, seen = os.replace, []

    def replace(src, dst):
        seen.append(dst)
        if len(seen) == 3:                            # the commit, one rename, then this
            raise OSError("injected")
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    stamp(mod, 2)
    with pytest.raises(OSError, match="injected") as info:
        mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    assert "was committed" in "".join(getattr(info.value, "__notes__", ["was committed"]))
    monkeypatch.setattr(os, "replace", real_replace)
    assert len(one_save(stamps_on_disk(prefix, 1))) == 2    # mid-commit: MXNet would see a mix
    stamp(mod, 3)
    mod.save_checkpoint(prefix, 2, save_optimizer_states=True)
    rolled = stamps_on_disk(prefix, 1)
    assert rolled.pop("symbol.json") == {3} and one_save(rolled) == {2}   # rolled forward
    assert sorted(os.listdir(tmp_path)) == sorted(decoys + [
        "ck-0001.manifest", "ck-0001.params", "ck-0001.states", "ck-0002.manifest",
        "ck-0002.params", "ck-0002.states", "ck-symbol.json"])


def test_a_reader_rolling_the_set_forward_mid_save_does_not_break_the_save(tmp_path, monkeypatch):
    """A process that loads a set as soon as its manifest appears rolls the set forward
    under the saving process's feet; the save still completes, the set is the new one.
    A bad epoch is refused by name."""
    prefix = str(tmp_path / "ck")
    mod = trained_module()
    stamp(mod, 1)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    real_replace, renames = os.replace, []

    def replace(src, dst):
        renames.append(dst)
        if len(renames) == 2:                         # the commit done: a reader comes by
            sn.Module.load(prefix, 1, load_optimizer_states=True)    # and moves every temp
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    stamp(mod, 2)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert len(renames) > 3 and renames[0].endswith("ck-0001.manifest")
    assert one_save(stamps_loaded(prefix, 1)) == one_save(stamps_on_disk(prefix, 1)) == {2}
    for bad in (-1, 1.5, "3"):
        with pytest.raises(sn.CheckpointError, match=r"ck': the epoch must be an integer >= 0, "
                                                     r"got %s" % re.escape(repr(bad))):
            mod.save_checkpoint(prefix, bad)
        with pytest.raises(sn.CheckpointError, match=r"the epoch must be an integer"):
            sn.model.load_checkpoint(prefix, bad)


def test_a_set_caught_mid_commit_in_a_read_only_directory_loads_from_its_temps(
        tmp_path, monkeypatch, caplog):
    """Where the temps cannot be renamed (a read-only directory), loading a set whose save
    stopped after its commit reads the committed files from the temps themselves."""
    prefix = str(tmp_path / "ck")
    mod = trained_module()
    stamp(mod, 1)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    real_replace = os.replace

    def replace(src, dst):
        if not str(dst).endswith(".manifest"):
            raise PermissionError(13, "Permission denied (injected)", dst)
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    stamp(mod, 2)
    with pytest.raises(PermissionError):
        mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    before = snapshot(tmp_path)
    assert one_save(stamps_on_disk(prefix, 1)) == {1}           # only the manifest moved
    with caplog.at_level("WARNING", logger="symnorm"):
        assert one_save(stamps_loaded(prefix, 1)) == {2}        # graph, params, states
    assert not caplog.records and snapshot(tmp_path) == before


def test_ctrl_c_just_after_the_commit_keeps_the_new_set(tmp_path, monkeypatch):
    """An interrupt that lands after the manifest is in place must not delete the temps:
    they are the committed set's files, and the next load moves them into place."""
    mod = trained_module()
    prefix = str(tmp_path / "net")
    stamp(mod, 1)
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    stamp(mod, 2)
    real_replace = os.replace

    def replace_then_interrupt(src, dst):
        real_replace(src, dst)
        if dst.endswith(".manifest"):
            raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert one_save(stamps_loaded(prefix, 1)) == {2}
    assert one_save(stamps_on_disk(prefix, 1)) == {2}          # moved into place by the load


def test_a_symlink_planted_at_a_temp_name_does_not_redirect_the_save(tmp_path, monkeypatch):
    mod = trained_module()
    prefix = str(tmp_path / "net")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    mod.save_checkpoint(prefix, 1)
    os.symlink(victim, sn.checkpoint.temp_name(prefix + "-0001.params", 1))
    monkeypatch.setattr(sn.checkpoint, "_recover", lambda prefix: None)   # planted after the cleanup
    mod.save_checkpoint(prefix, 1)
    assert victim.read_text() == "keep me"
