"""The attention backward a few sequences at a time (``_backward_in_chunks``): the same
gradients as one chunk, and as the reference twin."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import functional as F
from tinynlp import workers
from tinynlp.functional import attention as attention_mod


def grads(monkeypatch, chunk, dtype, **kw):
    monkeypatch.setattr(attention_mod, "CHUNK_ELEMENTS", chunk)
    rng = np.random.default_rng(0)
    q, k, v = (tn.tensor(rng.standard_normal((3, 2, 5, 4)).astype(dtype), requires_grad=True)
               for _ in range(3))
    g = rng.standard_normal((3, 2, 5, 4)).astype(dtype)
    out = F.scaled_dot_product_attention(q, k, v, **kw)
    out.backward(g)
    return out.data, [t.grad for t in (q, k, v)]


@pytest.mark.parametrize("kw", [{}, {"is_causal": True},
                                {"mask": np.random.default_rng(3).random((5, 5)) > 0.3},
                                {"dropout": 0.3, "seed": 7}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunks_give_the_same_gradients(monkeypatch, kw, dtype):
    out1, g1 = grads(monkeypatch, 1, dtype, **kw)            # one (head, row block) at a time
    out2, g2 = grads(monkeypatch, 25, dtype, **kw)           # one sequence (2 heads · 5²) ...
    out3, g3 = grads(monkeypatch, 1 << 30, dtype, **kw)      # ... all in one chunk
    for a, b, c in zip(g1, g2, g3):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)
    np.testing.assert_array_equal(out1, out3)


def test_chunks_match_the_reference(monkeypatch):
    monkeypatch.setattr(attention_mod, "CHUNK_ELEMENTS", 30)
    rng = np.random.default_rng(1)
    arrs = [rng.standard_normal((4, 3, 6, 5)) for _ in range(3)]
    g = rng.standard_normal((4, 3, 6, 5))
    results = []
    for fn in (F.scaled_dot_product_attention, F.scaled_dot_product_attention_reference):
        ts = [tn.tensor(a, requires_grad=True) for a in arrs]
        fn(*ts, is_causal=True).backward(g)
        results.append([t.grad for t in ts])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True},
                                {"mask": np.random.default_rng(3).random((3, 1, 1, 5)) > 0.2},
                                {"mask": np.random.default_rng(4).standard_normal(
                                    (5, 5)).astype(np.float32)},
                                {"dropout": 0.3, "seed": 7}])
def test_forward_without_gradient_in_chunks(monkeypatch, kw):
    """Inference (nothing needs a gradient) goes a few sequences at a time: same output."""
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((3, 2, 5, 4)).astype(np.float32) for _ in range(3))
    whole = F.scaled_dot_product_attention(tn.tensor(q, requires_grad=True), k, v, **kw).data
    for chunk in (1, 10, 1 << 30):
        monkeypatch.setattr(attention_mod, "CHUNK_ELEMENTS", chunk)
        with tn.no_grad():
            got = F.scaled_dot_product_attention(tn.tensor(q, requires_grad=True), k, v, **kw)
        np.testing.assert_array_equal(got.data, whole)
        np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, **kw).data, whole)


class _Threads:
    """``numba`` as the attention module sees it, with a chosen thread count."""

    def __init__(self, n):
        self.n = n

    def get_num_threads(self):
        return self.n


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"dropout": 0.3, "seed": 7}])
def test_chunks_on_several_threads_give_the_same_numbers(monkeypatch, kw):
    """The chunks shared out over threads (``_over_chunks``): forward, inference and
    gradients identical to one thread's, whatever the split."""
    monkeypatch.setattr(attention_mod, "CHUNK_ELEMENTS", 25)       # one sequence per chunk
    results = {}
    for n in (1, 2, 3, 7):
        monkeypatch.setattr(attention_mod, "numba", _Threads(n))
        out, g = grads(monkeypatch, 25, np.float32, **kw)
        rng = np.random.default_rng(2)
        q, k, v = (rng.standard_normal((3, 2, 5, 4)).astype(np.float32) for _ in range(3))
        with tn.no_grad():
            inf = F.scaled_dot_product_attention(q, k, v, **kw).data
        results[n] = (out, *g, inf)
    for n in (2, 3, 7):
        for a, b in zip(results[n], results[1]):
            np.testing.assert_array_equal(a, b)


def test_large_heads_stay_on_the_calling_thread(monkeypatch):
    """Above SMALL_PRODUCT a head's GEMMs are BLAS-threaded: no second thread pool."""
    monkeypatch.setattr(attention_mod, "CHUNK_ELEMENTS", 25)
    monkeypatch.setattr(attention_mod, "numba", _Threads(4))
    monkeypatch.setattr(attention_mod, "SMALL_PRODUCT", 5 * 5 * 4 - 1)

    def no_pool():
        raise AssertionError("the chunks were sent to other threads")
    monkeypatch.setattr(workers, "worker_pool", no_pool)
    out, _ = grads(monkeypatch, 25, np.float32)
    assert np.isfinite(out).all()
    monkeypatch.setattr(attention_mod, "SMALL_PRODUCT", 5 * 5 * 4)
    with pytest.raises(AssertionError, match="other threads"):
        grads(monkeypatch, 25, np.float32)
