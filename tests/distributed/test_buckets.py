"""Gradient buckets: planning by dtype and size, packing dense/sparse/None gradients."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.autograd.tensor import RowSparseGrad
from tinynlp.distributed import plan_buckets

shape_st = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
dtype_st = st.sampled_from([np.float32, np.float64])


@given(specs=st.lists(st.tuples(shape_st, dtype_st), min_size=1, max_size=8),
       bucket_bytes=st.integers(1, 300))
def test_plan_covers_each_gradient_once_in_single_dtype_buckets(specs, bucket_bytes):
    buckets = plan_buckets(specs, bucket_bytes)
    slots = sorted(slot for b in buckets for slot, _, _ in b.entries)
    assert slots == list(range(len(specs)))
    for b in buckets:
        assert all(np.dtype(specs[s][1]) == b.dtype for s, _, _ in b.entries)
        # a bucket only exceeds the limit when it holds a single oversized gradient
        assert b.nbytes <= bucket_bytes or len(b.entries) == 1
        offsets = [o for _, o, _ in b.entries]
        assert offsets == sorted(offsets) and offsets[0] == 0
    # one bucket per dtype when everything fits
    assert len(plan_buckets(specs, 10**9)) == len({np.dtype(d) for _, d in specs})


@given(specs=st.lists(st.tuples(shape_st, dtype_st), min_size=1, max_size=6),
       bucket_bytes=st.integers(8, 200), data=st.data())
def test_pack_then_unpack_round_trips(specs, bucket_bytes, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    grads = [rng.normal(size=s).astype(d) for s, d in specs]
    out = [None] * len(grads)
    for b in plan_buckets(specs, bucket_bytes):
        b.pack(grads)
        for (slot, _, _), g in zip(b.entries, b.unpack([None] * len(grads), scale=2)):
            out[slot] = g
    for g, o in zip(grads, out):
        assert o.dtype == g.dtype and o.shape == g.shape
        np.testing.assert_array_equal(o, g / 2)


def test_sparse_and_missing_gradients_are_packed_dense():
    specs = [((5, 2), np.float64), ((3,), np.float64)]
    (bucket,) = plan_buckets(specs, 10**6)
    sparse = RowSparseGrad(np.array([4, 1, 4]), np.arange(6.0).reshape(3, 2), (5, 2))
    buf = bucket.pack([sparse, None])
    expect = np.zeros((5, 2))
    expect[4] = [0 + 4, 1 + 5]   # repeated row 4 adds up
    expect[1] = [2, 3]
    np.testing.assert_array_equal(buf[:10].reshape(5, 2), expect)
    np.testing.assert_array_equal(buf[10:], 0)


def test_unpack_writes_in_place_into_owned_gradients():
    specs = [((2, 3), np.float32)]
    (bucket,) = plan_buckets(specs, 10**6)
    g = np.ones((2, 3), np.float32)
    bucket.pack([g])
    bucket.buffer[:] = 8
    (out,) = bucket.unpack([g], scale=4)
    assert out is g and np.all(g == 2)
    # a view into the buffer is never handed out
    (fresh,) = bucket.unpack([None])
    assert not np.shares_memory(fresh, bucket.buffer)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="bucket_bytes must be a positive int"):
        plan_buckets([((2,), np.float32)], 0)
    with pytest.raises(TypeError, match="non-float dtype int64"):
        plan_buckets([((2,), np.int64)])
    (bucket,) = plan_buckets([((2, 2), np.float32)])
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(4,\), expected .*\(2, 2\)"):
        bucket.pack([np.zeros(4, np.float32)])
