"""Callbacks: EarlyStopping (restores the best weights), checkpoints, CSV, LR, progress."""

import csv
import io
import os

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.callbacks import (
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((160, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0, 0.5, 2.0]) > 0).astype(np.float32)
    return x, y


def _model(lr=0.05):
    model = tn.Sequential([tn.layers.Dense(6, activation="tanh", input_shape=(4,)),
                           tn.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=tn.optimizers.Adam(lr), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


class WeightsPerEpoch(tn.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_early_stopping_restores_the_best_weights(data):
    """Validating on flipped labels: val_loss is best after epoch 1 and then gets worse."""
    x, y = data
    model = _model()
    rec = WeightsPerEpoch()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    hist = model.fit(x, y, epochs=20, batch_size=32, validation_data=(x, 1 - y), verbose=0,
                     callbacks=[rec, stop])
    val = hist.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) == best + 3                      # patience 2 after the best epoch
    assert stop.stopped_epoch == best + 2 and stop.best_epoch == best
    for a, b in zip(model.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.get_weights()[0], rec.weights[-1][0])


def test_early_stopping_without_restore_keeps_last_weights(data):
    x, y = data
    model = _model()
    rec = WeightsPerEpoch()
    model.fit(x, y, epochs=20, validation_data=(x, 1 - y), verbose=0,
              callbacks=[rec, EarlyStopping(patience=1)])
    np.testing.assert_array_equal(model.get_weights()[0], rec.weights[-1][0])


class _Stub:
    def __init__(self):
        self.stop_training = False
        self.w = 0

    def get_weights(self):
        return [np.array(self.w)]

    def set_weights(self, ws):
        self.w = int(ws[0])


def _drive(cb, values, key="val_loss"):
    model = _Stub()
    cb.set_model(model)
    cb.on_train_begin()
    epochs = 0
    for epoch, v in enumerate(values):
        model.w = epoch
        cb.on_epoch_end(epoch, {key: v})
        epochs += 1
        if model.stop_training:
            break
    cb.on_train_end()
    return epochs, model.w


def test_early_stopping_patience_min_delta_and_mode():
    # improvements smaller than min_delta do not count
    assert _drive(EarlyStopping(patience=1, min_delta=0.1), [1.0, 0.95, 0.93, 0.5])[0] == 2
    assert _drive(EarlyStopping(patience=1, min_delta=0.1), [1.0, 0.85, 0.8, 0.5])[0] == 3
    assert _drive(EarlyStopping(patience=1), [1.0, 0.95, 0.93, 0.9, 0.95, 0.96])[0] == 5
    # "val_accuracy" is maximised in auto mode; restored weights are the best epoch's
    n, w = _drive(EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=True),
                  [0.5, 0.7, 0.6, 0.65, 0.9], key="val_accuracy")
    assert (n, w) == (4, 1)
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="up")


def test_early_stopping_warns_on_missing_metric():
    with pytest.warns(UserWarning, match="'val_loss' is not in the logs"):
        _drive(EarlyStopping(), [0.1], key="loss")


def test_model_checkpoint_save_best_only(data, tmp_path):
    x, y = data
    model = _model()
    rec = WeightsPerEpoch()
    path = str(tmp_path / "best.tnz")
    ckpt = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    hist = model.fit(x, y, epochs=8, validation_data=(x, 1 - y), verbose=0,
                     callbacks=[rec, ckpt])
    best = int(np.argmin(hist.history["val_loss"]))
    loaded = tn.models.load_model(path)
    for a, b in zip(loaded.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(a, b)
    assert loaded.saved_epoch == best + 1


def test_model_checkpoint_formats_the_path_and_weights_only(data, tmp_path):
    x, y = data
    model = _model()
    ckpt = ModelCheckpoint(str(tmp_path / "w-{epoch:02d}-{loss:.2f}.tnz"), save_weights_only=True)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ckpt])
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2 and names[0].startswith("w-01-") and names[1].startswith("w-02-")
    other = _model()
    other.load_weights(tmp_path / names[1])
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])
    with pytest.raises(KeyError, match="val_f1"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[ModelCheckpoint(str(tmp_path / "{val_f1}.tnz"))])


def test_csv_logger(data, tmp_path):
    x, y = data
    path = tmp_path / "log.csv"
    model = _model()
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.2, callbacks=[CSVLogger(path)])
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert float(rows[3][2]) == pytest.approx(model.history.history["loss"][2])
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.2,
              callbacks=[CSVLogger(path, append=True)])
    with open(path) as f:
        assert len(list(csv.reader(f))) == 5


def test_learning_rate_scheduler_sets_the_rate_each_epoch(data):
    x, y = data
    model = _model(lr=0.1)
    seen = []

    class Spy(tn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    hist = model.fit(x, y, epochs=3, verbose=0,
                     callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.5), Spy()])
    assert seen == pytest.approx([0.05, 0.025, 0.0125])
    assert hist.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e: 0.3)])
    assert model.optimizer.learning_rate == 0.3
    with pytest.raises(ValueError, match="schedule returned"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e: -1.0)])


def test_reduce_lr_on_plateau_in_fit(data):
    x, y = data
    model = _model(lr=0.05)
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=0.01)
    hist = model.fit(x, y, epochs=8, validation_data=(x, 1 - y), verbose=0, callbacks=[cb])
    lrs = hist.history["learning_rate"]
    assert lrs[0] == pytest.approx(0.05) and lrs[-1] == pytest.approx(0.01)
    assert all(b <= a for a, b in zip(lrs, lrs[1:]))


def test_reduce_lr_on_plateau_refuses_a_schedule(data):
    x, y = data
    model = _model()
    model.compile(optimizer=tn.optimizers.Adam(tn.optimizers.schedules.ExponentialDecay(
        0.05, 10, 0.9)), loss="binary_crossentropy")
    with pytest.raises(TypeError, match="is a schedule"):
        model.fit(x, y, epochs=5, validation_data=(x, 1 - y), verbose=0,
                  callbacks=[ReduceLROnPlateau(patience=1)])


def test_progress_bar_lines():
    out = io.StringIO()
    bar = ProgressBar(verbose=1, stream=out, interval=0.0)
    bar.set_params({"epochs": 3, "steps": 4})
    bar.on_epoch_begin(1)
    for b in range(4):
        bar.on_batch_end(b, {"loss": 0.5 - 0.1 * b, "accuracy": 0.75})
    bar.on_epoch_end(1, {"loss": 0.2, "accuracy": 0.75, "val_loss": 0.25})
    text = out.getvalue()
    assert text.startswith("Epoch 2/3\n")
    frames = text.split("\n", 1)[1].split("\r")[1:]
    assert frames[0].startswith("1/4 [======>" + "." * 23 + "]")
    assert "ETA: " in frames[0] and "/step" in frames[0]
    assert "loss: 0.5000 - accuracy: 0.7500" in frames[0]
    assert frames[-1].startswith("4/4 [==============================] - ")
    assert "val_loss: 0.2500" in frames[-1] and frames[-1].endswith("\n")
    assert "ETA" not in frames[-1]


def test_progress_bar_verbose_2_and_unknown_length():
    out = io.StringIO()
    bar = ProgressBar(verbose=2, stream=out)
    bar.set_params({"epochs": 2, "steps": None})
    bar.on_epoch_begin(0)
    bar.on_batch_end(0, {"loss": 1.0})
    bar.on_epoch_end(0, {"loss": 1.0})
    assert out.getvalue().count("\n") == 1 and out.getvalue().startswith("Epoch 1/2 - ")
    out = io.StringIO()
    bar = ProgressBar(verbose=1, stream=out, interval=0.0)
    bar.set_params({"epochs": 1, "steps": None})
    bar.on_epoch_begin(0)
    bar.on_batch_end(4, {"loss": 1.0})
    assert "5/unknown" in out.getvalue()
