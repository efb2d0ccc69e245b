"""Data for training (``mx.io``): ``DataDesc``, ``DataBatch``, ``NDArrayIter``, and
``Normalize`` (per-channel statistics fitted on the training set only).  The IDX reader
for (Fashion-)MNIST is ``symnorm.idx``."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from .. import random as _random
from ..core.dims import check_shape
from ..core.ndarray import NDArray
from ..interop.idx import IDXError, load_mnist, read_idx  # noqa: F401  (re-exported)


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """A named input shape (with dtype and layout), as ``provide_data`` lists them."""
    def __new__(cls, name, shape, dtype=np.float32, layout="NCHW"):
        obj = super().__new__(cls, name, check_shape(shape, "DataDesc %r: shape" % (name,)))
        obj.dtype, obj.layout = dtype, layout
        return obj


class DataBatch:
    """One batch: lists of data and label arrays; ``pad`` counts the filler samples."""
    def __init__(self, data, label=None, pad=0, index=None, provide_data=None, provide_label=None):
        self.data, self.label, self.pad, self.index = data, label, pad, index
        self.provide_data, self.provide_label = provide_data, provide_label

    def __repr__(self):
        return "DataBatch: data shapes %s label shapes %s pad %d" % (
            [d.shape for d in self.data], [l.shape for l in self.label or []], self.pad)


def _named(arrays, default):
    if arrays is None:
        return OrderedDict()
    if isinstance(arrays, dict):        # sorted by name, as MXNet 1.9.1 (measured)
        return OrderedDict((k, np.asarray(v)) for k, v in sorted(arrays.items()))
    if isinstance(arrays, (list, tuple)):
        if len(arrays) == 1:
            return OrderedDict([(default, np.asarray(arrays[0]))])
        return OrderedDict(("_%d_%s" % (i, default), np.asarray(a)) for i, a in enumerate(arrays))
    return OrderedDict([(default, np.asarray(arrays))])


class NDArrayIter:
    """Batches over in-memory arrays (dicts of several inputs too).

    ``last_batch_handle``: 'pad' fills the last batch with samples from the start (and
    sets ``pad``), 'discard' drops it, 'roll_over' carries the remainder into the next
    epoch's first batch, whose ``pad`` counts the carried samples (MXNet 1.9.1's value; a
    ``predict`` over such an iterator keeps what MXNet keeps).  ``shuffle`` reorders every epoch (``symnorm.random`` stream).
    ``num_parts``/``part_index`` give this worker a disjoint shard (data-parallel training).
    ``layout`` is what ``provide_data`` reports (as in MXNet; the data are not transposed).
    """

    def __init__(self, data, label=None, batch_size=1, shuffle=False, last_batch_handle="pad",
                 data_name="data", label_name="softmax_label", num_parts=1, part_index=0,
                 layout="NCHW"):
        if last_batch_handle not in ("pad", "discard", "roll_over"):
            raise ValueError("last_batch_handle must be 'pad', 'discard' or 'roll_over', got %r"
                             % last_batch_handle)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1, got %r" % batch_size)
        self.data = _named(data, data_name)
        self.label = _named(label, label_name)
        sizes = {len(v) for v in list(self.data.values()) + list(self.label.values())}
        if len(sizes) != 1:
            raise ValueError("NDArrayIter: all data and labels need the same number of samples, "
                             "got %s" % {k: len(v) for k, v in list(self.data.items()) + list(self.label.items())})
        n = sizes.pop()
        if not 0 <= part_index < num_parts:
            raise ValueError("part_index %d not in [0, %d)" % (part_index, num_parts))
        # equal shards (the remainder is left out) so every rank ends an epoch at one step
        self._index_all = np.arange(n - n % num_parts)[part_index::num_parts]
        self.num_data = len(self._index_all)
        if self.num_data < batch_size and last_batch_handle == "discard":
            raise ValueError("batch_size %d is larger than the %d samples" % (batch_size, self.num_data))
        self.batch_size, self.shuffle, self.last_batch_handle = batch_size, shuffle, last_batch_handle
        self.layout = layout
        self._carry = np.array([], dtype=np.int64)
        self.reset()

    @property
    def provide_data(self):
        return [DataDesc(k, (self.batch_size,) + v.shape[1:], v.dtype, self.layout)
                for k, v in self.data.items()]

    @property
    def provide_label(self):
        return [DataDesc(k, (self.batch_size,) + v.shape[1:], v.dtype) for k, v in self.label.items()]

    def reset(self):
        order = self._index_all.copy()
        if self.shuffle:
            _random.generator().shuffle(order)
        self._carried = 0
        if self.last_batch_handle == "roll_over":
            order = np.concatenate([self._carry, order])
            self._carried = len(self._carry)
        self._order = order
        self._cursor = 0
        self._current = None

    def __iter__(self):
        return self

    def __next__(self):
        start, end = self._cursor, self._cursor + self.batch_size
        total = len(self._order)
        if start >= total:
            raise StopIteration
        pad = 0
        if end > total:
            if self.last_batch_handle == "discard":
                raise StopIteration
            if self.last_batch_handle == "roll_over":
                self._carry = self._order[start:]
                self._cursor = total
                raise StopIteration
            pad = end - total
            # from the start again, as often as needed (a batch larger than the data
            # repeats it, as MXNet's does)
            idx = self._order[np.arange(start, end) % total]
        else:
            idx = self._order[start:end]
            if start == 0 and self._carried:
                # MXNet 1.9.1 reports the samples carried over from the last epoch as the
                # first batch's padding (measured: [8, 9, 0, 1] has pad 2)
                pad = self._carried
        if self.last_batch_handle == "roll_over" and end >= total:
            self._carry = np.array([], dtype=np.int64)
        self._cursor = end
        # NDArrays, as MXNet's iterators give (views of the new batch arrays: no copy)
        self._current = DataBatch([v[idx].view(NDArray) for v in self.data.values()],
                                  [v[idx].view(NDArray) for v in self.label.values()],
                                  pad=pad, index=idx, provide_data=self.provide_data,
                                  provide_label=self.provide_label)
        return self._current

    next = __next__

    # MXNet's DataIter protocol: iter_next() moves on, the get*() read the batch it reached
    @property
    def idx(self) -> np.ndarray:
        """This epoch's order of the samples (shuffled when ``shuffle``), as MXNet's ``idx``."""
        return self._order[self._carried:]

    def iter_next(self) -> bool:
        """Move to the next batch; False at the end of the epoch."""
        try:
            self.__next__()
        except StopIteration:
            return False
        return True

    def _batch(self, what):
        batch = getattr(self, "_current", None)
        if batch is None:
            raise ValueError("%s: no current batch; call iter_next() or next() first" % what)
        return batch

    def getdata(self):
        return self._batch("getdata").data

    def getlabel(self):
        return self._batch("getlabel").label

    def getpad(self) -> int:
        return self._batch("getpad").pad

    def getindex(self):
        return self._batch("getindex").index

    def hard_reset(self):
        """Start over, dropping the samples 'roll_over' would carry into the next epoch."""
        self._carry = np.array([], dtype=np.int64)
        self.reset()


class _OneArrayIter(NDArrayIter):
    """MXNet's C++ iterators (MNISTIter, CSVIter): ``getdata``/``getlabel`` give the one
    array, not a list."""
    def getdata(self):
        return super().getdata()[0]

    def getlabel(self):
        return super().getlabel()[0]


class MNISTIter(_OneArrayIter):
    """MXNet's ``mx.io.MNISTIter`` over IDX files (gzipped ones too).  As MXNet 1.9.1
    (measured): pixels are scaled by 1/256 (255 -> 0.996), images are (N, 1, 28, 28), or
    (N, 784) with ``flat``; ``num_parts``/``part_index`` take contiguous shards
    ([n·k/parts, n·(k+1)/parts)); the data are shuffled once when loaded, not every epoch;
    the last incomplete batch is dropped.  The shuffled order comes from ``seed`` through
    numpy, so it is not MXNet's order."""
    def __init__(self, image, label, batch_size=128, shuffle=True, flat=False, seed=0,
                 silent=False, num_parts=1, part_index=0, prefetch_buffer=4, ctx="gpu",
                 dtype="float32", data_name="data", label_name="softmax_label"):
        images = read_idx(image, expect_ndim=3)
        labels = read_idx(label, expect_ndim=1)
        if len(images) != len(labels):
            raise IDXError("MNISTIter: %s has %d images but %s has %d labels"
                           % (image, len(images), label, len(labels)))
        if not 0 <= part_index < num_parts:
            raise IDXError("MNISTIter: part_index %d not in [0, %d)" % (part_index, num_parts))
        n = len(images)
        shard = slice(n * part_index // num_parts, n * (part_index + 1) // num_parts)
        images, labels = images[shard], labels[shard]
        if shuffle:
            order = np.random.RandomState(seed).permutation(len(images))
            images, labels = images[order], labels[order]
        x = images.astype(dtype) / 256
        x = x.reshape(len(x), -1) if flat else x[:, None]
        super().__init__(x, labels.astype(np.float32), batch_size=batch_size,
                         last_batch_handle="discard", data_name=data_name, label_name=label_name)


class CSVIter(_OneArrayIter):
    """MXNet's ``mx.io.CSVIter``: rows of ``data_csv`` reshaped to ``data_shape`` (labels
    from ``label_csv`` shaped ``label_shape``, zeros without one), read into memory.  A last
    incomplete batch is filled from the start with ``pad`` set, as MXNet does with
    ``round_batch`` (with ``round_batch=False`` MXNet fills it with stale rows instead;
    either way ``pad`` says how many to ignore).  Unlike MXNet, every epoch starts at the
    first row (MXNet's next epoch starts after the rows the padding took)."""
    def __init__(self, data_csv, data_shape, label_csv=None, label_shape=(1,), batch_size=1,
                 round_batch=True, dtype="float32", data_name="data", label_name="softmax_label",
                 **ignored_mxnet_options):
        data = self._read(data_csv, data_shape, dtype)
        if label_csv is None:
            label = np.zeros((len(data),) + tuple(label_shape), np.float32)
        else:
            label = self._read(label_csv, label_shape, np.float32)
            if len(label) != len(data):
                raise ValueError("CSVIter: %s has %d rows but %s has %d"
                                 % (data_csv, len(data), label_csv, len(label)))
        if tuple(label_shape) == (1,):
            label = label.reshape(len(label))          # (N,), as MXNet's provide_label
        super().__init__(data, label, batch_size=batch_size, last_batch_handle="pad",
                         data_name=data_name, label_name=label_name)

    @staticmethod
    def _read(path, shape, dtype):
        rows = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
        size = int(np.prod(shape))
        if rows.shape[1] != size:
            raise ValueError("CSVIter: %s has %d values per row, shape %s needs %d"
                             % (path, rows.shape[1], tuple(shape), size))
        return rows.astype(dtype).reshape((len(rows),) + tuple(shape))


class Normalize:
    """Per-channel standardization: ``fit`` on the training set only, then ``(x - mean) / std``.

    >>> import numpy as np
    >>> norm = Normalize.fit(np.array([[[[0.0]], [[2.0]]], [[[2.0]], [[4.0]]]]))
    >>> norm.mean.ravel().tolist(), norm.std.ravel().tolist()
    ([1.0, 3.0], [1.0, 1.0])
    """
    def __init__(self, mean, std, axis=1):
        self.mean, self.std, self.axis = np.asarray(mean), np.asarray(std), axis

    @classmethod
    def fit(cls, x, axis=1, eps=1e-8):
        axes = tuple(i for i in range(x.ndim) if i != axis)
        mean = x.mean(axis=axes, keepdims=True, dtype=np.float64)
        std = x.std(axis=axes, keepdims=True, dtype=np.float64) + eps
        return cls(mean.astype(np.float32), std.astype(np.float32), axis)

    def __call__(self, x):
        return ((x - self.mean) / self.std).astype(np.float32)


__all__ = ["DataDesc", "DataBatch", "NDArrayIter", "MNISTIter", "CSVIter", "Normalize", "read_idx",
           "load_mnist", "IDXError"]
