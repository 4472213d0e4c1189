"""A train step in blocks of the batch on parallel threads (tinynlp.models.train_blocks):
the same step as on the whole batch, and only where that holds."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.models import train_blocks
from tinynlp.models.data import BatchData

V, S = 23, 16


def gpt(dtype="float64", loss=None, dropout=0.0, metrics=None, seed=0, tie=False):
    tn.random.seed(seed)
    m = tn.models.GPT(V, S, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
                      dropout=dropout, tie_embeddings=tie, dtype=dtype)
    m.compile(optimizer=tn.optimizers.AdamW(learning_rate=1e-2, weight_decay=0.1),
              loss=loss or tn.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=metrics)
    with tn.no_grad():
        m(np.zeros((1, S), np.int64))
    return m


def twins(dtype="float64", **kw):
    """The same model twice: one always whole, one always in blocks."""
    whole, split = gpt(dtype, **kw), gpt(dtype, **kw)
    split.set_weights(whole.get_weights())
    whole._train_in_blocks = False
    split._train_in_blocks = True
    return whole, split


def data(B=7, T=9, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))


def assert_same_weights(a, b, rtol):
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(q, p, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype,rtol,tie", [("float64", 1e-11, False), ("float64", 1e-11, True),
                                            ("float32", 2e-5, False)])
def test_steps_in_blocks_equal_whole_steps(three_blocks, dtype, rtol, tie):
    """Three AdamW steps, three uneven blocks: the same losses and weights as whole (with
    the head tied to the embedding, its two gradients add up across blocks too)."""
    whole, split = twins(dtype, tie=tie)
    x, y = data()
    for _ in range(3):
        lw, ls = whole.train_on_batch(x, y), split.train_on_batch(x, y)
        assert ls == pytest.approx(lw, rel=rtol)
    assert three_blocks == [7, 7, 7]
    assert_same_weights(whole, split, rtol)
    assert not np.allclose(split.get_weights()[0], gpt(dtype, tie=tie).get_weights()[0])


def test_weights_masks_ignored_targets_and_regularization(three_blocks):
    """Sample and class weights, a loader's padding mask, ignore_index and a regularized
    weight: every block counts its own positions, and the batch's mean is Σ S / Σ n."""
    loss = tn.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_index=0)
    whole, split = twins(loss=loss)
    for m in (whole, split):
        m.weights[0].regularizer = tn.regularizers.L2(1e-3)
    x, y = data(B=6)
    y[0, :5] = 0                                   # ignored targets, unevenly over the blocks
    y[4, :] = 0
    mask = np.ones(x.shape, bool)
    mask[1, :4] = mask[5, :2] = False
    sw = np.linspace(0.5, 2.0, 6)
    cw = {c: 1.0 + (c % 3) for c in range(V)}
    for _ in range(2):
        batch = BatchData(x, y, sw, mask)
        lw, _ = whole._train_step(batch, cw)
        ls, n = split._train_step(batch, cw)
        assert n == 6 and ls == pytest.approx(lw, rel=1e-12)
    assert three_blocks == [6, 6]
    assert_same_weights(whole, split, 1e-11)


def test_metrics_see_the_whole_batch(three_blocks):
    whole, split = twins(metrics=["accuracy"])
    x, y = data()
    hw = whole.fit(x, y, batch_size=7, epochs=2, shuffle=False, verbose=0)
    hs = split.fit(x, y, batch_size=7, epochs=2, shuffle=False, verbose=0)
    assert three_blocks == [7, 7]
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(hs.history[key], hw.history[key], rtol=1e-12)


def test_blocks_repeat_exactly(three_blocks):
    """The blocks' gradients are added up in block order, not as the threads finish."""
    runs = []
    for _ in range(2):
        _, split = twins("float32")
        x, y = data()
        for _ in range(3):
            split.train_on_batch(x, y)
        runs.append(split.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_a_nan_loss_updates_nothing(three_blocks):
    _, split = twins()
    x, y = data()
    w = split.weights[0]
    w.data[3, 0] = np.nan                          # token 3's embedding
    x[5, 2] = 3                                    # used in the last block only
    before = [p.copy() for p in split.get_weights()]
    with pytest.raises(FloatingPointError, match="the loss is nan"):
        split.train_on_batch(x, y)
    assert three_blocks == [7]
    for p, q in zip(before, split.get_weights()):
        np.testing.assert_array_equal(p, q)
    assert all(p.grad is None for p in split.weights)


def test_errors_inside_a_block_reach_the_caller(three_blocks):
    _, split = twins()
    x, y = data()
    y[6, 0] = V                                     # out of range, in the last block
    with pytest.raises(ValueError, match=str(V)):
        split.train_on_batch(x, y)


class _OwnCall(tn.losses.SparseCategoricalCrossentropy):
    def call(self, y_true, y_pred):                 # may return anything: not split
        return super().call(y_true, y_pred)


@pytest.mark.parametrize("case", ["dropout", "callable loss", "changed loss", "one row",
                                  "list targets"])
def test_not_in_blocks(three_blocks, monkeypatch, case):
    """Dropout draws random numbers (their order would depend on the threads), a loss that
    may return one scalar cannot be split, one row has nothing to split."""
    kw = {"dropout": {"dropout": 0.1},
          "callable loss": {"loss": lambda yt, yp: tn.losses.SparseCategoricalCrossentropy(
              from_logits=True)(yt, yp)},
          "changed loss": {"loss": _OwnCall(from_logits=True)}}.get(case, {})
    m = gpt(**kw)
    m._train_in_blocks = True
    x, y = data(B=1 if case == "one row" else 7)
    m.train_on_batch(x, y.tolist() if case == "list targets" else y)
    assert three_blocks == []


def test_the_rule_blocks_of_enough_positions(three_blocks, monkeypatch):
    """Unforced, the step runs in blocks when every block has MIN_BLOCK_POSITIONS positions
    (rows × time steps): a fixed rule, so that a run repeats bit for bit."""
    m = gpt()
    x, y = data(B=7, T=9)                          # blocks of 2, 1 and 4 rows: at least 9
    monkeypatch.setattr(train_blocks, "MIN_BLOCK_POSITIONS", 10)
    m.train_on_batch(x, y)
    assert three_blocks == [7]                      # asked, and whole (phase 1 never ran)
    calls = []
    real = train_blocks.run_batch_blocks
    monkeypatch.setattr(train_blocks, "run_batch_blocks",
                        lambda work, blocks: calls.append(len(blocks)) or real(work, blocks))
    m.train_on_batch(x, y)
    assert calls == []
    monkeypatch.setattr(train_blocks, "MIN_BLOCK_POSITIONS", 9)
    m.train_on_batch(x, y)
    assert calls == [3, 3]                          # phase 1 and phase 2
    m._train_in_blocks = False                      # forced either way
    m.train_on_batch(x, y)
    assert calls == [3, 3] and three_blocks == [7, 7, 7]
