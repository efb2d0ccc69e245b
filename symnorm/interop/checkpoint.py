"""Checkpoint sets that stay whole: ``prefix-symbol.json``, ``prefix-%04d.params`` and
``prefix-%04d.states`` saved so that after a kill, a crash or a full disk at any moment, what
loads is one set -- the one before the save or the one it wrote -- never a mix.

One file is made atomic by a rename; a *set* of files is made atomic by a commit record
written last, ``prefix-%04d.manifest`` (JSON; MXNet never opens it, and its name matches none
of the ``-symbol.json``/``.params``/``.states`` patterns tools glob for).  It lists each file
of the set with its size and sha256, and the sha256 of the file it replaced.

Save:
  1. finish what a killed save of this prefix left (``_recover``): a temp file a committed
     manifest lists is renamed into place, every other temp of ours is deleted;
  2. write each new file to ``.<name>.<epoch>.symnorm-tmp`` beside it and fsync it;
  3. write the manifest (temp, fsync, rename): the commit;
  4. rename the temps onto their names, fsync the directory.
A failure before 3 deletes the temps and leaves the old set as it was.  A kill or failure
after 3 leaves the new set committed, partly still in temps: loading it (or the next save)
rolls it forward.  So a reader sees the old manifest with the old files, or the new manifest
with the new files (or their temps).

Load: with a manifest, roll forward, then check every file loaded against it; a file that
differs is refused (``CheckpointError`` naming the file, the manifest and what differs).
Without one -- a checkpoint MXNet wrote, or symnorm before manifests -- load as before.

The graph file is shared by all epochs of a prefix, and a later save may rewrite it with a
different graph.  Each manifest keeps the text of the graph its epoch was saved with, so an
older epoch loads with its own graph, and a warning says the shared file changed (MXNet would
pair the old parameters with the new graph).  Refusing instead would make every earlier
epoch unloadable after, say, fine-tuning with a new head under the same prefix, though the
true graph is at hand.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re

import numpy as np

from . import nd
from ..core.errors import SymnormError
from ..core.fileio import fsync_dir, write_synced
from ..core.serialize import tojson
from ..core.symbol import load as _load_symbol_file
from ..core.symbol import load_json

_LOG = logging.getLogger("symnorm")
FORMAT = "symnorm checkpoint manifest"
VERSION = 1
TEMP_SUFFIX = ".symnorm-tmp"
ROLES = ("symbol", "params", "states")


class CheckpointError(SymnormError, ValueError):
    """A checkpoint set is not whole: a file differs from what its manifest recorded."""


def file_name(prefix, epoch, role) -> str:
    """The path of one file of the set (MXNet's names; ``manifest`` is symnorm's)."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise CheckpointError("checkpoint %r: the epoch must be an integer >= 0, got %r"
                              % (os.fspath(prefix), epoch))
    return "%s-symbol.json" % prefix if role == "symbol" else "%s-%04d.%s" % (prefix, epoch, role)


def temp_name(path, epoch) -> str:
    """Where a save writes ``path`` before its commit: hidden, beside it, one per epoch (so
    the shared graph file of two epochs' saves never collide)."""
    head, tail = os.path.split(path)
    return os.path.join(head, ".%s.%04d%s" % (tail, epoch, TEMP_SUFFIX))


def named_params(arg_params, aux_params) -> dict:
    """``{"arg:<name>": array, "aux:<name>": array}``: the keys of a checkpoint .params file."""
    blob = {"arg:%s" % k: np.asarray(v) for k, v in arg_params.items()}
    blob.update({"aux:%s" % k: np.asarray(v) for k, v in (aux_params or {}).items()})
    return blob


def split_params(data, fname):
    """``(arg_params, aux_params)`` from what ``nd.load`` read from ``fname``."""
    if not isinstance(data, dict):
        raise nd.ParamsFileError("%s holds an unnamed list of arrays, not arg:/aux: parameters" % fname)
    arg, aux = {}, {}
    for k, v in data.items():
        kind, sep, name = k.partition(":")
        if not sep or kind not in ("arg", "aux"):
            raise nd.ParamsFileError("%s: key %r is not 'arg:<name>' or 'aux:<name>' (a Gluon "
                                     "save_parameters file? load it with symnorm.nd.load)" % (fname, k))
        (arg if kind == "arg" else aux)[name] = v
    return arg, aux


# ------------------------------------------------------------------ save

def save(prefix, epoch, symbol=None, arg_params=None, aux_params=None, states=None) -> None:
    """Save one checkpoint set: the graph (unless ``symbol`` is None), the parameters, and
    optimizer ``states`` (a dict for ``nd.save``) when given; all of it or none of it."""
    prefix = os.fspath(prefix)
    mpath = file_name(prefix, epoch, "manifest")
    directory = os.path.dirname(os.path.abspath(prefix))
    if not os.path.isdir(directory):
        raise FileNotFoundError("save_checkpoint(%r): the directory %s does not exist"
                                % (prefix, directory))
    blobs = {"params": nd.dumps(named_params(arg_params or {}, aux_params))}
    if symbol is not None:
        blobs["symbol"] = tojson(symbol).encode("utf-8")
    if states is not None:
        blobs["states"] = nd.dumps(states)
    _recover(prefix)
    files = {}
    for role, data in blobs.items():
        old = _read(file_name(prefix, epoch, role))
        files[role] = {"size": len(data), "sha256": _sha(data),
                       "replaces": None if old is None else _sha(old)}
    manifest = {"format": FORMAT, "version": VERSION, "epoch": int(epoch), "files": files}
    if symbol is not None:
        manifest["symbol_json"] = blobs["symbol"].decode("utf-8")
    written = []
    try:                                        # 2. every file to its temp
        for role, data in blobs.items():
            written.append(temp_name(file_name(prefix, epoch, role), epoch))
            write_synced(written[-1], data)
        manifest_bytes = json.dumps(manifest, indent=1).encode("utf-8")
        written.append(temp_name(mpath, epoch))
        write_synced(written[-1], manifest_bytes)
        os.replace(written[-1], mpath)          # 3. the commit
        written.pop()
    except BaseException:
        # an interrupt can land just after the commit: then the temps are the set's files
        # (the next load or save moves them into place) and must stay
        if not (len(written) == len(blobs) + 1 and _read(mpath) == manifest_bytes):
            for tmp in written:
                _unlink(tmp)
        raise
    fsync_dir(directory)
    try:                                        # 4. into place
        for role in blobs:
            path = file_name(prefix, epoch, role)
            try:
                os.replace(temp_name(path, epoch), path)
            except FileNotFoundError:           # a reader rolled it forward since the commit
                if not _matches(_read(path) or b"", files[role]):
                    raise
    except BaseException as exc:
        if hasattr(exc, "add_note"):
            exc.add_note("the checkpoint set %s-%04d was committed (%s); the files not yet in "
                         "place are moved there by the next load or save of it"
                         % (prefix, epoch, mpath))
        raise
    fsync_dir(directory)


_TEMP = r"^\.(%s-(?:symbol\.json|(\d{4,})\.(?:params|states|manifest)))\.(\d{4,})%s$"
# what fileio.atomic_write (mkstemp: 8 of [a-z0-9_]) leaves when killed while writing one of
# the set's files on its own (sym.save, nd.save, save_optimizer_states, symnorm < manifests)
_ATOMIC_TEMP = r"^\.%s-(?:symbol\.json|\d{4,}\.(?:params|states))\.[a-z0-9_]{8}\.tmp$"


def _recover(prefix) -> None:
    """Finish or clear what killed saves of ``prefix`` left: roll each committed temp
    forward, delete the rest.  Only names our own temp pattern matches exactly are touched."""
    directory = os.path.dirname(os.path.abspath(prefix))
    base = re.escape(os.path.basename(prefix))
    pattern = re.compile(_TEMP % (base, re.escape(TEMP_SUFFIX)))
    atomic = re.compile(_ATOMIC_TEMP % base)
    changed = False
    for entry in sorted(os.listdir(directory)):
        if atomic.match(entry):
            _unlink(os.path.join(directory, entry))
            changed = True
            continue
        m = pattern.match(entry)
        if m is None or (m.group(2) is not None and int(m.group(2)) != int(m.group(3))):
            continue
        epoch, target = int(m.group(3)), os.path.join(directory, m.group(1))
        role = "symbol" if target.endswith("-symbol.json") else target.rsplit(".", 1)[1]
        try:
            manifest = _read_manifest(prefix, epoch)
        except CheckpointError:
            manifest = None
        entry_ = manifest and manifest["files"].get(role)
        if entry_ is not None:
            _settle(target, temp_name(target, epoch), entry_)
        _unlink(temp_name(target, epoch))
        changed = True
    if changed:
        fsync_dir(directory)


# ------------------------------------------------------------------ load

def load(prefix, epoch, states=False):
    """``(symbol, arg_params, aux_params, states)`` of one checkpoint set, checked against
    its manifest when it has one.  ``states`` (only asked for with ``states=True``) is
    ``(path, arrays)``: the .states file's arrays as read and verified here, so nothing
    re-reads a file that may have changed since; None when the set has none."""
    prefix = os.fspath(prefix)
    manifest = _read_manifest(prefix, epoch)
    if manifest is None:                        # MXNet's checkpoint, or an older symnorm's
        symbol = _load_symbol_file(file_name(prefix, epoch, "symbol"))
        pname = file_name(prefix, epoch, "params")
        arg, aux = split_params(nd.load(pname), pname)
        spath = file_name(prefix, epoch, "states")
        return symbol, arg, aux, ((spath, nd.load(spath)) if states and os.path.exists(spath) else None)
    files = manifest["files"]
    for role in files:                          # finish an interrupted commit first
        path = file_name(prefix, epoch, role)
        if os.path.exists(temp_name(path, epoch)):
            _settle(path, temp_name(path, epoch), files[role])
    pname, pdata = _verified(prefix, epoch, "params", files)
    arg, aux = split_params(nd.loads(pdata, pname), pname)
    symbol = _symbol(prefix, epoch, manifest)
    loaded_states = None
    if states:
        if "states" in files:
            spath, sdata = _verified(prefix, epoch, "states", files)
            loaded_states = (spath, nd.loads(sdata, spath))
        elif os.path.exists(file_name(prefix, epoch, "states")):
            raise CheckpointError(
                "%s is not part of checkpoint %s-%04d: %s records a set saved without optimizer "
                "states, so that file is left from an earlier save (delete it, or save again "
                "with save_optimizer_states=True)"
                % (file_name(prefix, epoch, "states"), prefix, epoch, file_name(prefix, epoch, "manifest")))
    return symbol, arg, aux, loaded_states


def _symbol(prefix, epoch, manifest):
    """The graph saved with this epoch.  No graph in the set: the shared file, unchecked."""
    path = file_name(prefix, epoch, "symbol")
    if "symbol" not in manifest["files"]:
        return _load_symbol_file(path)
    mpath = file_name(prefix, epoch, "manifest")
    text = manifest["symbol_json"]
    try:
        saved = load_json(text)
    except SymnormError as exc:
        raise CheckpointError("%s: the graph it keeps does not load: %s" % (mpath, exc)) from None
    if any(data is not None and _matches(data, manifest["files"]["symbol"])
           for data in (_read(path), _read(temp_name(path, epoch)))):
        return saved                            # (the temp: a read-only directory mid-commit)
    current = _read(path)
    try:
        same = current is not None and tojson(load_json(current.decode("utf-8"))) == tojson(saved)
    except (SymnormError, UnicodeDecodeError):
        same = False
    if not same:
        _LOG.warning("%s no longer holds the graph saved with epoch %d (%s); loading that "
                     "epoch's own graph, kept in %s (MXNet's load_checkpoint would pair epoch %d's "
                     "parameters with the graph now in the file)", path, epoch,
                     "it is missing" if current is None else "a later save rewrote it",
                     mpath, epoch)
    return saved


def _verified(prefix, epoch, role, files):
    """``(path, bytes)`` of one file of the set, or CheckpointError saying what differs."""
    path = file_name(prefix, epoch, role)
    entry = files[role]
    data = _read(path)
    if data is not None and _matches(data, entry):
        return path, data
    tmp = temp_name(path, epoch)
    tdata = _read(tmp)                          # a read-only directory: rolled forward in place
    if tdata is not None and _matches(tdata, entry):
        return tmp, tdata
    what = ("it is missing" if data is None else "it has %d bytes, sha256 %s..." % (len(data), _sha(data)[:16]))
    raise CheckpointError(
        "checkpoint %s-%04d is not one consistent set: %s differs from the file saved with it "
        "(%s; %s recorded %d bytes, sha256 %s...): it was changed after the save, by another "
        "program, by hand, or by a call that writes that one file alone (nd.save, save_params, "
        "sym.save).  Delete %s to load the files as they are, unchecked"
        % (prefix, epoch, path, what, file_name(prefix, epoch, "manifest"), entry["size"],
           entry["sha256"][:16], file_name(prefix, epoch, "manifest")))


def _settle(target, tmp, entry) -> None:
    """Roll one committed file forward: move ``tmp`` onto ``target`` when ``tmp`` holds
    what ``entry`` recorded and ``target`` is still the file the save replaced (or absent).
    A target some other program wrote since is left alone (loading then refuses it)."""
    current = _read(target)
    if current is not None and _matches(current, entry):
        return
    if current is not None and _sha(current) != entry.get("replaces"):
        return
    staged = _read(tmp)
    if staged is None or not _matches(staged, entry):
        return
    try:
        os.replace(tmp, target)
    except OSError:
        return                                  # read-only: _verified reads the temp instead
    fsync_dir(os.path.dirname(os.path.abspath(target)))


def _read_manifest(prefix, epoch):
    """The manifest of ``prefix``/``epoch`` as a dict, None when there is none."""
    path = file_name(prefix, epoch, "manifest")
    data = _read(path)
    if data is None:
        return None
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError("%s: not a readable checkpoint manifest (%s); delete it to load "
                              "the checkpoint's files unchecked" % (path, exc)) from None
    ok = (isinstance(doc, dict) and doc.get("format") == FORMAT and isinstance(doc.get("files"), dict)
          and "params" in doc["files"]
          and all(r in ROLES and isinstance(e, dict) and isinstance(e.get("size"), int)
                  and isinstance(e.get("sha256"), str) for r, e in doc["files"].items())
          and ("symbol" not in doc["files"] or isinstance(doc.get("symbol_json"), str)))
    if ok and "symbol" in doc["files"] and not _matches(doc["symbol_json"].encode("utf-8"),
                                                         doc["files"]["symbol"]):
        raise CheckpointError("%s: the graph it keeps does not match the sha256 it records for "
                              "the graph file (edited by hand?); delete it to load the "
                              "checkpoint's files unchecked" % path)
    if not ok:
        raise CheckpointError("%s: not a symnorm checkpoint manifest (expected %r with the "
                              "params file listed); delete it to load the checkpoint's files "
                              "unchecked" % (path, FORMAT))
    if doc.get("version") != VERSION:
        raise CheckpointError("%s: manifest version %r; this symnorm reads version %d"
                              % (path, doc.get("version"), VERSION))
    return doc


def _read(path):
    """The bytes of ``path``, or None when it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError("cannot read %s: %s" % (path, exc.strerror)) from None


def _sha(data) -> str:
    return hashlib.sha256(data).hexdigest()


def _matches(data, entry) -> bool:
    return len(data) == entry["size"] and _sha(data) == entry["sha256"]


def _unlink(path) -> None:
    """Remove a temp file of ours if it is there (a failure leaves it to the next save)."""
    try:
        os.unlink(path)
    except OSError:
        pass


__all__ = ["save", "load", "CheckpointError", "file_name", "temp_name", "named_params",
           "split_params"]
