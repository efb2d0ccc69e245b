"""MXNet's ``.params`` files (``nd.save``/``nd.load``): lists or dicts of arrays.

Layout (little-endian, no padding; ``docs/facts.md`` §1.4)::

    file    := u64 0x112 | u64 0 | u64 n | array[n] | u64 n_names | (u64 len, bytes)[n_names]
    array   := V2: u32 0xF993FAC9 | i32 stype | shape | i32 dev_type | i32 dev_id | i32 dtype | data
               V3: u32 0xF993FACA, as V2 (ndim 0 is a scalar, -1 is "none")
               V1: u32 0xF993FAC8 | shape | dev | dtype | data   (no stype)
               legacy: u32 ndim | u32 dims[ndim] | dev | dtype | data
    shape   := i32 ndim | i64 dims[ndim]

``save`` writes V2 records (what MXNet 1.x's ``nd.save`` and ``save_checkpoint`` write),
atomically.  ``load`` reads all four and every dtype code (bfloat16 widened to float32);
a truncated or corrupt file raises ``ParamsFileError`` naming the file and the offset.
"""
from __future__ import annotations

import struct
from collections import Counter

import numpy as np

from ..core.dims import MAX_NDIM, check_shape
from ..core.dtype import MX_FLAG_TO_NP, NP_TO_MX_FLAG
from ..core.errors import ShapeError, SymnormError
from ..core.fileio import atomic_write

LIST_MAGIC = 0x112
V1, V2, V3 = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
BFLOAT16 = 12


class ParamsFileError(SymnormError, ValueError):
    """A .params file is truncated, corrupt, or of an unsupported kind."""


def _encode(a: np.ndarray) -> bytes:
    a = np.ascontiguousarray(a)
    if a.dtype not in NP_TO_MX_FLAG:
        raise ParamsFileError("cannot save dtype %s: MXNet has no type flag for it" % a.dtype)
    shape = a.shape if a.ndim else (1,)          # V2 cannot store 0-d: MXNet saves (1,)
    head = struct.pack("<Iii", V2, 0, len(shape)) + struct.pack("<%dq" % len(shape), *shape)
    head += struct.pack("<iii", 1, 0, NP_TO_MX_FLAG[a.dtype])
    return head + a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def save(fname: str, data) -> None:
    """Save a list or a dict of arrays in MXNet's format (``mx.nd.save``), atomically."""
    atomic_write(fname, dumps(data))


def dumps(data) -> bytes:
    """The bytes ``save`` writes for a list or a dict of arrays."""
    if isinstance(data, dict):
        names, arrays = list(data), list(data.values())
    elif isinstance(data, (list, tuple)):
        names, arrays = [], list(data)
    else:
        raise TypeError("nd.save takes a list or a dict of arrays, got %s" % type(data).__name__)
    parts = [struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays))]
    parts += [_encode(np.asarray(a)) for a in arrays]
    parts.append(struct.pack("<Q", len(names)))
    for n in names:
        raw = str(n).encode("utf-8")
        parts.append(struct.pack("<Q", len(raw)) + raw)
    return b"".join(parts)


class _Reader:
    def __init__(self, buf, fname):
        self.b, self.o, self.fname = buf, 0, fname

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.o + size > len(self.b):
            raise ParamsFileError("%s: truncated at byte %d (needed %d more bytes for %s)"
                                  % (self.fname, self.o, size, fmt))
        v = struct.unpack_from(fmt, self.b, self.o)
        self.o += size
        return v

    def data(self, dtype, count):
        size = dtype.itemsize * count
        if self.o + size > len(self.b):
            raise ParamsFileError("%s: truncated at byte %d: an array needs %d bytes, %d remain"
                                  % (self.fname, self.o, size, len(self.b) - self.o))
        a = np.frombuffer(self.b, dtype, count, self.o)
        self.o += size
        return a


def _dtype(flag, r):
    if flag == BFLOAT16:
        return np.dtype("<u2")
    if flag not in MX_FLAG_TO_NP:
        raise ParamsFileError("%s: unknown dtype flag %d at byte %d" % (r.fname, flag, r.o - 4))
    return np.dtype(MX_FLAG_TO_NP[flag]).newbyteorder("<")


def _ndim(ndim, r):
    if ndim > MAX_NDIM:
        raise ParamsFileError("%s: array record at byte %d has %d dims; at most %d are allowed"
                              % (r.fname, r.o - 4, ndim, MAX_NDIM))
    return ndim


def _array(r: _Reader):
    (magic,) = r.take("<I")
    if magic in (V2, V3):
        (stype,) = r.take("<i")
        if stype != 0:
            raise ParamsFileError("%s: sparse arrays (stype %d) are not supported" % (r.fname, stype))
        (ndim,) = r.take("<i")
        if ndim < 0 or (ndim == 0 and magic == V2):
            return None
        shape = r.take("<%dq" % _ndim(ndim, r)) if ndim else ()
    elif magic == V1:
        (ndim,) = r.take("<i")
        if ndim == 0:
            return None
        if ndim < 0:
            raise ParamsFileError("%s: negative ndim %d at byte %d" % (r.fname, ndim, r.o - 4))
        shape = r.take("<%dq" % _ndim(ndim, r))
    elif magic < 64:                    # legacy: the first word is ndim
        ndim = magic
        if ndim == 0:
            return None
        shape = r.take("<%dI" % _ndim(ndim, r))
    else:
        raise ParamsFileError("%s: unknown array record magic 0x%08X at byte %d"
                              % (r.fname, magic, r.o - 4))
    start = r.o
    try:
        shape = check_shape(shape, "shape", unknown_zero=False)
    except ShapeError as exc:
        raise ParamsFileError("%s: array record before byte %d: %s" % (r.fname, start, exc)) from None
    _dev_type, _dev_id, flag = r.take("<iii")
    dt = _dtype(flag, r)
    count, span = 1, dt.itemsize
    for d in shape:                     # Python ints: a product past int64 cannot wrap
        count *= d
        span *= d or 1
    if span > 2 ** 63 - 1:              # numpy refuses even an empty (2**62, 0) float32 array
        raise ParamsFileError("%s: array record before byte %d: shape %s of %s is too big for "
                              "numpy" % (r.fname, start, shape, dt))
    a = r.data(dt, count).reshape(shape)
    if flag == BFLOAT16:                # widen: bfloat16 is the top half of a float32
        return (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(dt.newbyteorder("="))


def load(fname: str):
    """Read an MXNet ``.params``/``nd.save`` file: a dict when it has names, else a list."""
    try:
        with open(fname, "rb") as f:
            buf = f.read()
    except (OSError, TypeError, ValueError) as exc:
        raise ParamsFileError("cannot read %s: %s"
                              % (fname, getattr(exc, "strerror", None) or exc)) from None
    return loads(buf, fname)


def loads(buf: bytes, fname: str = "<bytes>"):
    """Parse the bytes of an ``nd.save`` file (``fname`` names it in errors)."""
    r = _Reader(buf, fname)
    magic, _reserved = r.take("<QQ")
    if magic != LIST_MAGIC:
        raise ParamsFileError("%s: not an MXNet .params file (magic 0x%X, expected 0x112)" % (fname, magic))
    (n,) = r.take("<Q")
    if n > len(buf):
        raise ParamsFileError("%s: corrupt header (claims %d arrays)" % (fname, n))
    arrays = [_array(r) for _ in range(n)]
    (n_names,) = r.take("<Q")
    if n_names not in (0, n):
        raise ParamsFileError("%s: %d names for %d arrays" % (fname, n_names, n))
    names = []
    for _ in range(n_names):
        (length,) = r.take("<Q")
        at = r.o
        raw = r.data(np.dtype("u1"), length).tobytes()
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            # a replacement character would rename the parameter, perhaps onto another
            raise ParamsFileError("%s: the name at byte %d is not UTF-8: %r"
                                  % (fname, at, raw[:60])) from None
    if r.o != len(buf):
        raise ParamsFileError("%s: %d trailing bytes after the last record" % (fname, len(buf) - r.o))
    if len(set(names)) != len(names):
        # a dict would silently keep the last one; MXNet's loader does the same
        dup = sorted(k for k, c in Counter(names).items() if c > 1)
        raise ParamsFileError("%s: duplicate array name(s) %s" % (fname, ", ".join(map(repr, dup[:5]))))
    return dict(zip(names, arrays)) if names else arrays


__all__ = ["save", "load", "dumps", "loads", "ParamsFileError"]
