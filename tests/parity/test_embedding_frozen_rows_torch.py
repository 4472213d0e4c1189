"""Frozen embedding rows against PyTorch: ``padding_idx`` (one row), a gradient hook
(many rows), and Adam steps with that hook."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinynlp as tn  # noqa: E402
from tinynlp import functional as F  # noqa: E402
from tinynlp.autograd.tensor import RowSparseGrad  # noqa: E402
from tinynlp.layers.base import Parameter  # noqa: E402

IDS = np.array([[1, 4, 4, 0], [4, 2, 1, 5]])


def _dense(g):
    return g.to_dense() if isinstance(g, RowSparseGrad) else g


@pytest.mark.parametrize("sparse", [False, True])
def test_one_frozen_row_is_pytorchs_padding_idx(sparse):
    rng = np.random.default_rng(0)
    table = rng.standard_normal((6, 3))
    g = rng.standard_normal((2, 4, 3))
    ours = tn.tensor(table.copy(), requires_grad=True)
    F.embedding(IDS, ours, sparse=sparse, frozen_rows=[4]).backward(g)
    w = torch.tensor(table.copy(), requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(IDS), w, padding_idx=4).backward(torch.tensor(g))
    np.testing.assert_allclose(_dense(ours.grad), w.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("sparse", [False, True])
def test_many_frozen_rows_are_a_torch_gradient_hook(sparse):
    rng = np.random.default_rng(1)
    table = rng.standard_normal((6, 3))
    frozen = np.array([False, True, False, False, True, False])
    g = rng.standard_normal((2, 4, 3))
    ours = tn.tensor(table.copy(), requires_grad=True)
    F.embedding(IDS, ours, sparse=sparse, frozen_rows=frozen).backward(g)
    w = torch.tensor(table.copy(), requires_grad=True)
    w.register_hook(lambda grad: grad * torch.tensor((~frozen).astype(np.float64))[:, None])
    torch.nn.functional.embedding(torch.tensor(IDS), w).backward(torch.tensor(g))
    np.testing.assert_allclose(_dense(ours.grad), w.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_adam_steps_match_torch_adam_with_the_hook():
    rng = np.random.default_rng(2)
    table = rng.standard_normal((6, 3))
    frozen = np.array([False, True, False, False, True, False])
    keep = torch.tensor((~frozen).astype(np.float64))[:, None]
    p = Parameter(table.copy(), name="emb")
    opt = tn.optimizers.Adam(0.05, epsilon=1e-8)
    w = torch.nn.Parameter(torch.tensor(table.copy()))
    w.register_hook(lambda grad: grad * keep)          # the usual PyTorch partial freeze
    topt = torch.optim.Adam([w], lr=0.05, eps=1e-8)
    for _ in range(4):
        ids = rng.integers(0, 6, (3, 5))
        g = rng.standard_normal((3, 5, 3))
        F.embedding(ids, p, frozen_rows=frozen).backward(g)
        opt.step([p])
        opt.zero_grad([p])
        topt.zero_grad()
        torch.nn.functional.embedding(torch.tensor(ids), w).backward(torch.tensor(g))
        topt.step()
        np.testing.assert_allclose(p.data, w.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(p.data[frozen], table[frozen])
