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
