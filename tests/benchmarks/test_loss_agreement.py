"""tinynlp and PyTorch compute the same training steps from the same start.

From identical initial weights (tinynlp's, converted to PyTorch's layout) and
identical batches, the per-step losses of the benchmark models agree to
float32 rounding for the first 10 Adam steps — so the benchmark times the
same computation in both frameworks.  Embedding gradients are dense here, so
both sides run exactly the same Adam update on the whole table.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmarks.agreement import batches, loss_curves  # noqa: E402
from benchmarks.prepare import initial_weights, make_data, torch_layout  # noqa: E402
from benchmarks.specs import MODELS, get_spec  # noqa: E402

STEPS = 10


@pytest.fixture(autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.mark.parametrize("name", list(MODELS))
def test_losses_agree_step_by_step(name):
    spec = get_spec(name, quick=True)
    tiny, ref = loss_curves(spec, steps=STEPS, batch=16)
    assert tiny.shape == ref.shape == (STEPS,)
    assert np.all(np.isfinite(tiny))
    # the losses move (training happens) ...
    assert np.ptp(tiny) > 1e-4
    # ... and move identically, up to float32 rounding
    np.testing.assert_allclose(tiny, ref, rtol=2e-5, atol=2e-6)


def test_sparse_variant_agrees_with_sparse_adam():
    """Row-sparse gradients + lazy Adam vs nn.Embedding(sparse=True) + SparseAdam."""
    tiny, ref = loss_curves(get_spec("emb_lstm", quick=True), steps=STEPS, batch=16,
                            sparse=True)
    np.testing.assert_allclose(tiny, ref, rtol=1e-4, atol=1e-5)


def test_agreement_check_can_fail():
    """A different start (one weight nudged) is caught by the same tolerance."""
    from benchmarks import tinynlp_models, torch_models

    spec = get_spec("emb_rnn", quick=True)
    (x, y), _ = make_data(spec, quick=True)
    weights = initial_weights(spec)
    tw = torch_layout(spec, weights)
    tw["fc.bias"] = tw["fc.bias"] + 0.01
    tiny = tinynlp_models.build(spec, weights)
    ref = torch_models.build(spec, tw)
    a, b = [], []
    for xb, yb in batches(x, y, 16, 3):
        a.append(tiny.train_step(xb, yb))
        b.append(ref.train_step(ref.convert_x(xb), ref.convert_y(yb)))
    assert not np.allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_torch_layout_matches_torch_module(name):
    """Every torch parameter gets a converted weight of its exact shape, and the
    two models give the same predictions before any training."""
    from benchmarks import tinynlp_models, torch_models

    spec = get_spec(name, quick=True)
    weights = initial_weights(spec)
    tw = torch_layout(spec, weights)
    module = torch_models.make_module(spec)
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == \
        {k: v.shape for k, v in tw.items()}
    (x, _), _ = make_data(spec, quick=True)
    tiny = tinynlp_models.build(spec, weights)
    ref = torch_models.build(spec, tw)
    np.testing.assert_allclose(tiny.predict(x[:32]), ref.predict(ref.convert_x(x[:32])),
                               rtol=1e-5, atol=1e-6)
