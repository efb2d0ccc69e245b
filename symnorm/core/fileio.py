"""Atomic file writes: a crash never leaves a half-written file in place of a good one.

Every file written here gets the permissions ``open()`` would give it, ``0o666 & ~umask``:
the temporary file is created with mode 0o666 and the kernel applies the umask (no
process-wide ``os.umask`` dance, which would race with other threads)."""
from __future__ import annotations

import os
import secrets

_TEMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def _create_temp(directory: str, base: str):
    """Open a new ``.<base>.XXXXXXXX.tmp`` in ``directory`` (the name pattern of
    ``tempfile.mkstemp``, which checkpoint recovery recognises) with mode 0o666 & ~umask;
    mkstemp itself always creates 0o600."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | \
        getattr(os, "O_NOFOLLOW", 0)
    for _ in range(1000):
        name = "".join(secrets.choice(_TEMP_CHARS) for _ in range(8))
        tmp = os.path.join(directory, ".%s.%s.tmp" % (base, name))
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError("no free temporary file name for %r in %s" % (base, directory))


def atomic_write(path: str, data) -> None:
    """Write ``data`` (str or bytes) to a temporary file beside ``path``, fsync, rename.
    The file gets mode ``0o666 & ~umask``, as a plain ``open(path, "w")`` would."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    mode = "wb" if isinstance(data, (bytes, bytearray, memoryview)) else "w"
    fd, tmp = _create_temp(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_synced(path: str, data: bytes) -> None:
    """Create ``path`` afresh, write ``data`` and fsync it (no rename: the caller renames
    when its whole set is written).  A leftover file or link of that name is removed first
    and the new one is opened exclusively, never through a symlink, so a name planted in a
    shared directory cannot redirect the write.  ``os.write`` in a loop, not a file
    object, so a short write or a full disk surfaces here as ``OSError``."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: str) -> None:
    """Make renames in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass            # some filesystems refuse fsync on a directory: nothing more to do
    finally:
        os.close(fd)
