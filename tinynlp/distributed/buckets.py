"""Gradient buckets: many small gradients packed into a few large flat buffers.

Each collective call has a fixed cost (latency: a few microseconds on one
machine, tens over a network) on top of its bandwidth cost, so all-reducing
a model's 10–100 gradients one by one wastes time on small tensors.  As in
PyTorch DDP and Horovod's "tensor fusion", gradients are copied into flat
buffers of up to ``bucket_bytes`` (25 MB by default), one buffer per run of
parameters of the same dtype, and each buffer is all-reduced with one call::

    bucket = [ g_0.ravel() | g_1.ravel() | ... | g_k.ravel() ]     (one dtype)

A parameter larger than ``bucket_bytes`` gets a bucket of its own.  The plan
depends only on the parameters' shapes and dtypes — the same on every rank —
and the buffers are allocated once and reused every step.

This module is pure NumPy (no MPI), so the packing is tested on its own.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import RowSparseGrad
from ..kernels.scatter import scatter_add_rows

__all__ = ["Bucket", "plan_buckets", "DEFAULT_BUCKET_BYTES"]

DEFAULT_BUCKET_BYTES = 25 * 2**20


class Bucket:
    """One flat buffer of a single dtype and the slices of it each gradient owns.

    ``entries`` are ``(slot, offset, shape)``: gradient number ``slot`` (its
    position in the list handed to :meth:`pack`) lives in
    ``buffer[offset : offset + prod(shape)]``.
    """

    __slots__ = ("dtype", "entries", "numel", "_buffer")

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.entries = []
        self.numel = 0
        self._buffer = None

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    @property
    def buffer(self) -> np.ndarray:
        """The flat buffer (allocated on first use, then reused)."""
        if self._buffer is None:
            self._buffer = np.empty(self.numel, dtype=self.dtype)
        return self._buffer

    def add(self, slot, shape):
        self.entries.append((slot, self.numel, tuple(shape)))
        self.numel += int(np.prod(shape, dtype=np.int64))

    def view(self, offset, shape) -> np.ndarray:
        n = int(np.prod(shape, dtype=np.int64))
        return self.buffer[offset:offset + n].reshape(shape)

    def pack(self, grads) -> np.ndarray:
        """Copy ``grads[slot]`` of every entry into the buffer and return it.

        A gradient may be a dense ndarray, a :class:`RowSparseGrad` (scattered
        into its zeroed slice, repeated rows adding up) or ``None`` (zeros).
        """
        for slot, offset, shape in self.entries:
            dst = self.view(offset, shape)
            g = grads[slot]
            if g is None:
                dst[...] = 0
            elif isinstance(g, RowSparseGrad):
                dst[...] = 0
                rows = np.ascontiguousarray(g.values, dtype=self.dtype)
                scatter_add_rows(dst.reshape(shape[0], -1), g.indices,
                                 rows.reshape(len(g.indices), -1))
            else:
                g = np.asarray(g)
                if g.shape != shape:
                    raise ValueError(
                        f"allreduce_gradients: gradient {slot} has shape {g.shape}, "
                        f"expected its parameter's shape {shape}")
                dst[...] = g
        return self.buffer

    def unpack(self, grads, scale=None) -> list:
        """Gradients read back from the buffer (divided by ``scale`` if given).

        ``grads[slot]`` is overwritten in place when it is a writable dense
        array of the right shape and dtype (no allocation); otherwise a new
        array is made.  Returns the list of resulting arrays, by entry.
        """
        out = []
        for slot, offset, shape in self.entries:
            src = self.view(offset, shape)
            g = grads[slot]
            if (isinstance(g, np.ndarray) and g.shape == shape and g.dtype == self.dtype
                    and g.flags.writeable and not np.shares_memory(g, self.buffer)):
                dst = g
            else:
                dst = np.empty(shape, dtype=self.dtype)
            if scale is None:
                dst[...] = src
            else:
                np.divide(src, scale, out=dst)
            out.append(dst)
        return out

    def __repr__(self):
        return (f"Bucket({self.dtype}, {len(self.entries)} tensors, "
                f"{self.nbytes / 2**20:.2f} MB)")


def plan_buckets(shapes_dtypes, bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> list:
    """Group ``[(shape, dtype), ...]`` into :class:`Bucket` s.

    Parameters are grouped by dtype (in order of first appearance); within a
    dtype they fill buckets in list order, a new bucket starting when the next
    one would push the current past ``bucket_bytes``.
    """
    if not isinstance(bucket_bytes, (int, np.integer)) or bucket_bytes <= 0:
        raise ValueError(f"plan_buckets: bucket_bytes must be a positive int, got {bucket_bytes!r}")
    by_dtype: dict = {}
    for slot, (shape, dtype) in enumerate(shapes_dtypes):
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"plan_buckets: gradient {slot} has non-float dtype {dtype}")
        by_dtype.setdefault(dtype, []).append((slot, tuple(shape)))
    buckets = []
    for dtype, items in by_dtype.items():
        current = Bucket(dtype)
        for slot, shape in items:
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if current.entries and current.nbytes + nbytes > bucket_bytes:
                buckets.append(current)
                current = Bucket(dtype)
            current.add(slot, shape)
        if current.entries:
            buckets.append(current)
    return buckets
