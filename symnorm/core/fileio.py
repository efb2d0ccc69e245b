"""Atomic file writes: a crash never leaves a half-written file in place of a good one."""
from __future__ import annotations

import os
import tempfile


def atomic_write(path: str, data) -> None:
    """Write ``data`` (str or bytes) to a temporary file beside ``path``, fsync, rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    mode = "wb" if isinstance(data, (bytes, bytearray, memoryview)) else "w"
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
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
    """Create or truncate ``path``, write ``data`` and fsync it (no rename: the caller
    renames when its whole set is written).  ``os.write`` in a loop, not a file object,
    so a short write or a full disk surfaces here as ``OSError``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
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
