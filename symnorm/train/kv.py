"""Key-value stores (``mx.kv``): 'local' (one process) and 'dist_sync' (data-parallel over
MPI through mpi4py, imported only when a distributed store is created).

A ``dist_sync`` store, as ``Module.fit(kvstore='dist_sync')`` uses it:

* parameters and aux states are broadcast from rank 0 when training starts, after a check
  that every rank bound the same graph with the same shapes (a hash of the symbol JSON);
* gradients are **summed** across ranks with in-place ``Allreduce`` on contiguous buckets
  (one call per ~4 MiB, not one per small array) and ``rescale_grad`` becomes
  1/(batch × workers), as in MXNet, so the update equals one process on the whole batch;
* aux states are averaged after every step (identical on every rank; SyncBatchNorm's are
  identical already); metrics are summed across ranks; rank 0 alone logs and writes files.
"""
from __future__ import annotations

import hashlib
import time

import numpy as np

from ..core.errors import SymnormError

BUCKET_BYTES = 4 << 20


class DistributedError(SymnormError, RuntimeError):
    """Ranks disagree (graph, shapes) or a collective step failed."""


class Collective:
    """The communicator ops and stores use: sums across ranks (identity in one process)."""
    rank, size = 0, 1

    def allreduce_sum(self, buf: np.ndarray) -> np.ndarray:
        """Sum ``buf`` over all ranks, in place; returns it."""
        return buf

    def broadcast(self, buf: np.ndarray, root=0) -> np.ndarray:
        """Overwrite ``buf`` with rank ``root``'s values, in place."""
        return buf

    def allgather(self, obj):
        """Every rank's ``obj``, in rank order."""
        return [obj]

    def abort(self, code=1):
        """Stop the whole job (all ranks)."""
        raise SystemExit(code)


class MPICollective(Collective):
    """MPI_COMM_WORLD through mpi4py; ``seconds``/``bytes`` count the time and volume spent
    in all-reduces (the communication share a benchmark reports)."""
    def __init__(self, comm=None):
        from mpi4py import MPI
        self.MPI = MPI
        self.comm = comm or MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.seconds, self.bytes = 0.0, 0

    def allreduce_sum(self, buf):
        """MPI_Allreduce(SUM) in place, timed."""
        buf = np.ascontiguousarray(buf)
        t0 = time.perf_counter()
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        self.seconds += time.perf_counter() - t0
        self.bytes += buf.nbytes
        return buf

    def broadcast(self, buf, root=0):
        """MPI_Bcast from ``root``, in place."""
        self.comm.Bcast(buf, root=root)
        return buf

    def allgather(self, obj):
        """mpi4py's pickled allgather (small objects only)."""
        return self.comm.allgather(obj)

    def abort(self, code=1):
        """MPI_Abort: ends every rank of the job."""
        self.comm.Abort(code)


def _buckets(arrays, limit=BUCKET_BYTES):
    """Group same-dtype arrays into buckets of at most ``limit`` bytes."""
    bucket, size = [], 0
    for a in arrays:
        if bucket and (size + a.nbytes > limit or a.dtype != bucket[0].dtype):
            yield bucket
            bucket, size = [], 0
        bucket.append(a)
        size += a.nbytes
    if bucket:
        yield bucket


class KVStore:
    """MXNet's store interface over a ``Collective``."""

    def __init__(self, kind="local", collective=None):
        self.type = kind
        self.collective = collective or Collective()
        self._store: dict = {}

    rank = property(lambda self: self.collective.rank)
    num_workers = property(lambda self: self.collective.size)

    def init(self, key, value):
        """Register ``key``; a distributed store overwrites ``value`` with rank 0's."""
        for k, v in zip(*_pairs(key, value)):
            self.collective.broadcast(v)
            self._store[k] = np.array(v, copy=True)

    def push(self, key, value, priority=0):
        """Sum ``value`` (across ranks, and across a list of values) into the store."""
        for k, v in zip(*_pairs(key, value)):
            vs = v if isinstance(v, (list, tuple)) else [v]
            total = np.sum([np.asarray(x) for x in vs], axis=0).astype(vs[0].dtype)
            self._store[k] = self.collective.allreduce_sum(total)

    def pull(self, key, out=None, priority=0):
        """Copy the stored values of ``key`` into ``out``."""
        for k, o in zip(*_pairs(key, out)):
            np.copyto(o, self._store[k])

    def pushpull(self, key, value, out=None, priority=0):
        """push then pull: ``out`` (default ``value``) gets the sum over ranks."""
        self.push(key, value)
        self.pull(key, out if out is not None else value)

    def broadcast(self, key, value, out=None, priority=0):
        """Rank 0's ``value`` everywhere (and into ``out`` when given)."""
        self.init(key, value)
        if out is not None:
            self.pull(key, out)

    def allreduce_sum(self, arrays):
        """Sum every array across ranks, in place, bucketed into few collective calls."""
        if self.num_workers == 1:
            return
        for bucket in _buckets(arrays):
            flat = np.concatenate([a.ravel() for a in bucket])
            self.collective.allreduce_sum(flat)
            offset = 0
            for a in bucket:
                a.reshape(-1)[...] = flat[offset:offset + a.size]
                offset += a.size

    def average(self, arrays):
        """Average arrays across ranks, in place."""
        self.allreduce_sum(arrays)
        if self.num_workers > 1:
            for a in arrays:
                a /= self.num_workers

    def check_same(self, what: str, description: str):
        """Raise on every rank if ranks disagree on ``description`` (e.g. symbol + shapes)."""
        digest = hashlib.sha256(description.encode()).hexdigest()
        seen = self.collective.allgather(digest)
        if len(set(seen)) > 1:
            bad = [r for r, d in enumerate(seen) if d != seen[0]]
            raise DistributedError("ranks disagree on the %s: rank(s) %s differ from rank 0 "
                                   "(every rank must build the same graph with the same shapes)"
                                   % (what, ", ".join(map(str, bad))))

    def agree_on_step(self, has_batch: bool, where: str, step: int):
        """Check that every rank has a batch for this step, or that none has (one tiny
        all-reduce).  Otherwise every rank raises the same ``DistributedError``, instead
        of the ranks with data waiting forever (or MPI failing with "Message truncated")
        in a collective that the others never join."""
        if self.num_workers == 1:
            return
        flags = np.zeros(self.num_workers)
        flags[self.rank] = 1.0 if has_batch else 0.0
        self.collective.allreduce_sum(flags)
        if 0 < flags.sum() < self.num_workers:
            done = ", ".join(str(r) for r in np.flatnonzero(flags == 0))
            more = ", ".join(str(r) for r in np.flatnonzero(flags == 1))
            raise DistributedError(
                "ranks have unequal numbers of batches in %s: rank(s) %s ran out after %d "
                "batches while rank(s) %s have more; every rank needs the same number of "
                "batches per epoch (NDArrayIter(..., num_parts=N, part_index=rank) gives "
                "equal shards)" % (where, done, step, more))

    def reduce_metric(self, metric):
        """Sum a metric's counts across ranks (each part of a CompositeEvalMetric)."""
        metric._reduce(self.collective.allreduce_sum)

    def barrier(self):
        """Wait until every rank gets here."""
        self.collective.allreduce_sum(np.zeros(1))


def _pairs(key, value):
    if isinstance(key, (list, tuple)):
        return list(key), list(value)
    return [key], [value]


def create(name="local") -> KVStore:
    """'local' or 'device' (one process), or 'dist_sync' / 'dist_device_sync' (MPI)."""
    if isinstance(name, KVStore):
        return name
    if name in ("local", "device"):
        return KVStore(name)
    if name in ("dist_sync", "dist_device_sync", "dist"):
        try:
            return KVStore("dist_sync", MPICollective())
        except ImportError:
            raise DistributedError("kvstore 'dist_sync' needs mpi4py and an MPI: pip install "
                                   "'symnorm[distributed]' (mpi4py and mpich from PyPI)") from None
    raise ValueError("unknown kvstore %r: use 'local' or 'dist_sync'" % name)


__all__ = ["KVStore", "Collective", "MPICollective", "create", "DistributedError"]
