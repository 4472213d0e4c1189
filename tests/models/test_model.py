"""Sequential and subclassed models: building, summary, weights, masks, training mode."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.autograd import ops

from .conftest import Recorder, TinyDense, small_model


def test_sequential_with_input_shape_is_built_at_once_and_summarised(capsys):
    model = tn.Sequential([
        tn.layers.SimpleRNN(units=128, input_shape=(1, 10), activation="relu"),
        tn.layers.Dense(units=1, activation="sigmoid"),
    ], name="seed_rnn")
    # weights exist before any data: 10·128 + 128·128 + 128, then 128 + 1
    assert model.count_params() == 10 * 128 + 128 * 128 + 128 + 129
    assert [w.shape for w in model.get_weights()] == [(10, 128), (128, 128), (128,), (128, 1), (1,)]
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "seed_rnn"' in out
    assert "(SimpleRNN)" in out and "(None, 128)" in out and "17,792" in out
    assert "(Dense)" in out and "(None, 1)" in out and "129" in out
    assert "Total params: 17,921" in out
    assert "Trainable params: 17,921" in out and "Non-trainable params: 0" in out


def test_summary_counts_frozen_weights_as_non_trainable(capsys):
    model = small_model()
    model.layers[0].trainable = False
    model.summary()
    out = capsys.readouterr().out
    assert "Trainable params: 9" in out            # 8 + 1 of the last Dense
    assert "Non-trainable params: 40" in out       # 4·8 + 8


def test_summary_marks_unknown_time_axis_as_none(capsys):
    model = tn.Sequential([tn.layers.Embedding(50, 8, input_shape=(None,)),
                           tn.layers.SimpleRNN(4, return_sequences=True),
                           tn.layers.Dense(3)])
    model.summary()
    out = capsys.readouterr().out
    assert "(None, None, 8)" in out and "(None, None, 3)" in out


def test_predict_works_before_compile_and_builds_on_first_call():
    model = tn.Sequential([tn.layers.Dense(3, activation="relu"), tn.layers.Dense(2)])
    assert model.weights == []
    x = np.random.default_rng(0).standard_normal((70, 5)).astype(np.float32)
    out = model.predict(x, batch_size=32)
    assert out.shape == (70, 2) and out.dtype == np.float32
    assert [w.shape for w in model.get_weights()] == [(5, 3), (3,), (3, 2), (2,)]
    # batching does not change the result
    np.testing.assert_allclose(model.predict(x, batch_size=7), out, rtol=1e-6)


def test_get_set_weights_round_trip_and_errors():
    a, b = small_model(), small_model()
    x = np.ones((3, 4), np.float32)
    assert not np.allclose(a.predict(x), b.predict(x))
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    with pytest.raises(ValueError, match="expects shape"):
        b.set_weights([w.T for w in a.get_weights()])
    with pytest.raises(ValueError, match="list of 4 arrays"):
        b.set_weights(a.get_weights()[:2])


def test_frozen_layer_is_not_updated_by_fit(blobs):
    x, y = blobs
    model = small_model()
    model.layers[0].trainable = False
    frozen = [w.copy() for w in model.layers[0].get_weights()]
    trained = [w.copy() for w in model.layers[1].get_weights()]
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    for before, after in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(trained[0], model.layers[1].get_weights()[0])


class TwoTower(tn.Model):
    """Subclassed model: layers in attributes and in a list; two inputs."""

    def __init__(self):
        super().__init__(name="two_tower")
        self.left = TinyDense(4)
        self.right = TinyDense(4)
        self.heads = [tn.layers.Dense(4, activation="tanh"), tn.layers.Dense(1)]

    def call(self, inputs, training=False):
        a, b = inputs
        h = ops.concat([self.left(a), self.right(b)], axis=-1)
        for layer in self.heads:
            h = layer(h, training=training)
        return ops.sigmoid(h)


def test_subclassed_model_tracks_attribute_and_list_layers_and_trains():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((160, 3)).astype(np.float32)
    b = rng.standard_normal((160, 2)).astype(np.float32)
    y = ((a[:, 0] + b[:, 1]) > 0).astype(np.float32)
    model = TwoTower()
    out = model.predict([a, b])
    assert out.shape == (160, 1)
    shapes = [w.shape for w in model.weights]
    assert shapes == [(3, 4), (4,), (2, 4), (4,), (8, 4), (4,), (4, 1), (1,)]
    model.compile(optimizer=tn.optimizers.Adam(0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit([a, b], y, epochs=15, batch_size=32, verbose=0)
    assert hist.history["accuracy"][-1] > 0.9


def test_subclassed_call_without_training_argument_is_accepted(blobs):
    class Plain(tn.Model):
        def __init__(self):
            super().__init__()
            self.d = tn.layers.Dense(1, activation="sigmoid")

        def call(self, x):
            return self.d(x)

    x, y = blobs
    model = Plain()
    model.compile(loss="binary_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.predict(x[:2]).shape == (2, 1)


def test_training_flag_true_in_fit_false_in_evaluate_and_predict(blobs):
    x, y = blobs
    rec = Recorder()
    model = tn.Sequential([rec, tn.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=50, validation_split=0.25, verbose=0)
    flags = [t for t, _ in rec.calls]
    # 150 training samples → 3 training batches, then 1 validation batch
    assert flags == [True, True, True, False]
    rec.calls.clear()
    model.evaluate(x, y, verbose=0)
    model.predict(x)
    assert not any(t for t, _ in rec.calls)


def test_dropout_is_active_only_in_training(blobs):
    x, _ = blobs
    model = small_model(units=32, dropout=0.5)
    a, b = model.predict(x), model.predict(x)
    np.testing.assert_array_equal(a, b)            # inference: deterministic
    out1 = model(x, training=True).data
    out2 = model(x, training=True).data
    assert not np.allclose(out1, out2)             # training: random masks


def test_mask_zero_masks_the_loss_of_padded_positions():
    """Embedding(mask_zero) → RNN(return_sequences) → Dense: labels at padding don't count."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(6, 7))
    ids[:, 5:] = 0
    ids[0, 3:] = 0
    y = rng.integers(0, 3, size=(6, 7))
    model = tn.Sequential([tn.layers.Embedding(20, 8, mask_zero=True),
                           tn.layers.SimpleRNN(5, return_sequences=True),
                           tn.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss1, acc1 = model.evaluate(ids, y, verbose=0)
    y2 = y.copy()
    y2[ids == 0] = (y2[ids == 0] + 1) % 3          # change only padded labels
    loss2, acc2 = model.evaluate(ids, y2, verbose=0)
    assert loss1 == pytest.approx(loss2, rel=1e-6) and acc1 == pytest.approx(acc2)
    y3 = y.copy()
    y3[0, 0] = (y3[0, 0] + 1) % 3                   # a real position does count
    assert model.evaluate(ids, y3, verbose=0)[0] != pytest.approx(loss1, rel=1e-6)


def test_batch_loader_input_passes_padding_mask():
    """A BatchLoader's Batch: ids are the input, per-token labels masked by the batch mask."""
    loader_mod = pytest.importorskip("tinynlp.data.batching")
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 30, size=rng.integers(2, 9))) for _ in range(40)]
    tags = [[int(t % 2) for t in s] for s in seqs]      # tag = parity of the id
    loader = loader_mod.BatchLoader(seqs, tags, batch_size=8, shuffle=True)
    model = tn.Sequential([tn.layers.Embedding(30, 16),
                           tn.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=tn.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(loader, epochs=8, verbose=0)
    assert hist.history["accuracy"][-1] > 0.95
    evaluated = model.evaluate(loader, verbose=0, return_dict=True)
    assert set(evaluated) == {"loss", "accuracy"}
    preds = model.predict(loader)
    assert isinstance(preds, list) or preds.ndim == 3


def test_fit_rejects_bad_arguments(blobs):
    x, y = blobs
    model = small_model()
    with pytest.raises(RuntimeError, match="compiled first"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="a loss is required"):
        model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        model.compile(optimizer="adamm", loss="mse")
    model.compile(loss="binary_crossentropy")
    with pytest.raises(ValueError, match="x has 200 samples but y has 199"):
        model.fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="class_weight has no weight for class"):
        model.fit(x, y, class_weight={0: 1.0}, verbose=0)


def test_evaluate_return_forms(blobs):
    x, y = blobs
    model = small_model()
    model.compile(loss="binary_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    model.compile(loss="binary_crossentropy", metrics=["accuracy", "auc"])
    values = model.evaluate(x, y, verbose=0)
    assert len(values) == 3 and model.metrics_names == ["loss", "accuracy", "auc"]
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(d) == ["loss", "accuracy", "auc"] and d["loss"] == pytest.approx(values[0])


def test_float64_model_end_to_end(blobs):
    x, y = blobs
    model = tn.Sequential([tn.layers.Dense(4, activation="tanh", input_shape=(4,),
                                           dtype="float64"),
                           tn.layers.Dense(1, activation="sigmoid", dtype="float64")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert all(w.dtype == np.float64 for w in model.get_weights())
    assert model.predict(x).dtype == np.float64
