"""Compression tools on whole models: training with masks, checkpoints, quantized models."""

import os

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.autograd.tensor import RowSparseGrad
from tinynlp import compress as C


def _data(n=160, vocab=60, t=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, (n, t))
    y = (np.isin(x, np.arange(1, 10)).sum(1) > 1).astype(np.float32)
    return x, y


def _model(vocab=60):
    return tn.Sequential([tn.layers.Embedding(vocab, 16),
                          tn.layers.Conv1D(16, 3, activation="relu"),
                          tn.layers.GlobalMaxPooling1D(), tn.layers.Dense(16, activation="relu"),
                          tn.layers.Dense(1, activation="sigmoid")])


def _compiled():
    m = _model()
    m.compile(optimizer=tn.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
              metrics=["accuracy"])
    return m


def test_pruned_weights_stay_exactly_zero_through_fit():
    x, y = _data()
    m = _compiled()
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    C.prune_magnitude(m, amount=0.8, scope="global")
    masks = C.pruning_masks(m)
    assert set(masks) == {p.name for p in m.weights if p.name.endswith("/kernel")}
    before = {p.name: p.data.copy() for p in m.weights}
    m.fit(x, y, epochs=2, batch_size=32, verbose=0)
    for p in m.weights:
        if p.name in masks:
            assert np.all(p.data[~masks[p.name]] == 0)
            assert not np.array_equal(p.data[masks[p.name]], before[p.name][masks[p.name]])
    assert C.sparsity(m) == pytest.approx(0.8, abs=1e-3)


def test_without_masks_the_zeros_would_move():
    """The check above can fail: training without the constraint revives pruned weights."""
    x, y = _data()
    m = _compiled()
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    C.prune_magnitude(m, amount=0.8)
    C.remove_pruning(m)
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert C.sparsity(m) < 0.5


def test_gradual_pruning_callback_in_fit():
    x, y = _data()
    m = _compiled()
    steps = 2 * (len(x) // 32)
    cb = C.PolynomialDecaySparsity(final_sparsity=0.75, end_step=steps, frequency=2)
    m.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[cb])
    assert cb.history[-1] == (steps, pytest.approx(0.75))
    assert C.sparsity(m, include=None) == pytest.approx(0.75, abs=0.01)


def test_90_percent_sparse_checkpoint_is_at_most_a_quarter_of_dense(tmp_path):
    x, y = _data(vocab=1000)
    m = tn.Sequential([tn.layers.Embedding(1000, 32), tn.layers.LSTM(32),
                       tn.layers.Dense(32, activation="relu"),
                       tn.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy")
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    C.prune_magnitude(m, amount=0.9, scope="layer", include=["kernel", "embeddings"])
    dense = tmp_path / "dense.tnz"
    m.save(dense, include_optimizer=False)
    size = C.save_pruned(m, tmp_path / "sparse.npz")
    assert size == os.path.getsize(tmp_path / "sparse.npz")
    assert size <= os.path.getsize(dense) / 4
    loaded = C.load_pruned(tmp_path / "sparse.npz")
    np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
    for a, b in zip(loaded.weights, m.weights):
        np.testing.assert_array_equal(a.data, b.data)
    assert set(C.pruning_masks(loaded)) == set(C.pruning_masks(m))


def test_load_pruned_rejects_other_files(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="save_pruned"):
        C.load_pruned(tmp_path / "x.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable"):
        C.load_pruned(tmp_path / "junk.npz")


def test_quantized_model_predicts_close_and_saves_and_loads(tmp_path):
    x, y = _data()
    m = tn.Sequential([tn.layers.Embedding(60, 16, mask_zero=True), tn.layers.LSTM(8),
                       tn.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    q = C.quantize_dynamic(m)
    assert C.is_quantized(q) and not C.is_quantized(m)
    assert [type(layer).__name__ for layer in q.layers] == [
        "QuantizedEmbedding", "QuantizedLSTM", "QuantizedDense"]
    yp, yq = m.predict(x), q.predict(x)
    assert np.abs(yp - yq).max() < 0.02
    n8, nf = C.int8_parameters(q)
    assert n8 > 5 * nf
    assert sum(p.data.nbytes for p in q.weights) < 0.35 * sum(p.data.nbytes for p in m.weights)
    q.save(tmp_path / "q.tnz")
    q2 = tn.models.load_model(tmp_path / "q.tnz")
    np.testing.assert_array_equal(q2.predict(x), yq)
    # and through a sharded checkpoint
    C.save_sharded(q, tmp_path / "qs", max_shard_size="1kB")
    np.testing.assert_array_equal(C.load_sharded(tmp_path / "qs").predict(x), yq)


def test_quantize_leaves_the_float_model_alone_and_calibrate_model():
    x, y = _data()
    m = _compiled()
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    before = [w.copy() for w in m.get_weights()]
    q = C.quantize_dynamic(m, layers=["Dense", "Conv1D"])
    assert type(q.layers[0]).__name__ == "Embedding"
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    qs = C.calibrate(C.quantize_dynamic(m), x[:64])
    assert all(layer.is_static for layer in qs.layers if hasattr(layer, "input_scale"))
    assert np.mean((qs.predict(x) > 0.5) == (m.predict(x) > 0.5)) > 0.9
    with pytest.raises(ValueError, match="unknown"):
        C.quantize_dynamic(m, layers=["Attention"])


def test_quantization_aware_fine_tuning_then_convert():
    x, y = _data()
    m = _compiled()
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    C.prepare_qat(m)
    h = m.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    C.strip_qat(m)
    q = C.quantize_dynamic(m)
    assert np.mean((q.predict(x) > 0.5) == (m.predict(x) > 0.5)) > 0.9


def test_distillation_loss_in_fit():
    x, y = _data()
    teacher = _compiled()
    teacher.fit(x, y, epochs=3, batch_size=32, verbose=0)
    student = tn.Sequential([tn.layers.Embedding(60, 4), tn.layers.GlobalMaxPooling1D(),
                             tn.layers.Dense(1, activation="sigmoid")])
    loss = C.DistillationLoss(temperature=2.0, alpha=0.5)
    student.compile(optimizer=tn.optimizers.Adam(learning_rate=0.02), loss=loss)
    h = student.fit(x, loss.pack(y, teacher.predict(x)), epochs=4, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_gradient_hook_zeroes_pruned_gradients_dense_and_row_sparse():
    m = tn.Sequential([tn.layers.Embedding(20, 4, sparse=True), tn.layers.GlobalMaxPooling1D(),
                       tn.layers.Dense(1, activation="sigmoid")])
    x = np.array([[1, 2, 3], [3, 4, 5]])
    m.predict(x)
    C.prune_magnitude(m, amount=0.5, include=["kernel", "embeddings"], scope="layer")
    assert C.zero_pruned_gradients in m._gradient_hooks
    out = m(x, training=True)
    out.sum().backward()
    emb, kernel = m.layers[0].embeddings, m.layers[2].kernel
    assert isinstance(emb.grad, RowSparseGrad)
    assert np.any(emb.grad.to_dense()[~emb.constraint.mask] != 0)
    C.zero_pruned_gradients(m.weights)
    assert np.all(emb.grad.to_dense()[~emb.constraint.mask] == 0)
    assert np.all(kernel.grad[~kernel.constraint.mask] == 0)
