"""Checkpoints: round trip, exact resume, atomic writes, and clear errors on bad files."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.models import CheckpointError, load_model

from .conftest import TinyDense, small_model


def _trained(blobs, **fit_kw):
    x, y = blobs
    model = small_model(units=6, dropout=0.2)
    model.compile(optimizer=tn.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, **fit_kw)
    return model


def test_round_trip_restores_architecture_weights_optimizer_and_compile(blobs, tmp_path):
    x, y = blobs
    model = _trained(blobs)
    path = tmp_path / "m.tnz"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is tn.Sequential
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "Dropout", "Dense"]
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert type(loaded.optimizer) is tn.optimizers.Adam
    assert loaded.optimizer.iterations == model.optimizer.iterations == 14
    assert loaded.optimizer.learning_rate == pytest.approx(0.01)
    ours = model.optimizer.get_state(model.weights)["slots"]
    theirs = loaded.optimizer.get_state(loaded.weights)["slots"]
    for s1, s2 in zip(ours, theirs):
        assert s1.keys() == s2.keys()
        for k in s1:
            np.testing.assert_array_equal(s1[k], s2[k])
    assert loaded.metrics_names == ["loss", "accuracy"]
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_file_is_a_zip_of_npy_arrays_and_json_readable_without_pickle(blobs, tmp_path):
    model = _trained(blobs)
    path = tmp_path / "m.tnz"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        config = json.loads(zf.read("config.json"))
    assert names[0] == "config.json"
    assert "weights/00000.npy" in names and "optimizer/00000/m.npy" in names
    assert config["format"] == "tinynlp.model"
    assert config["architecture"]["class_name"] == "Sequential"
    assert [w["shape"] for w in config["weights"]] == [[4, 6], [6], [6, 1], [1]]
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["weights/00000"], model.get_weights()[0])


def test_resumed_run_reproduces_the_uninterrupted_run_exactly(blobs, tmp_path):
    x, y = blobs

    def build():
        model = small_model(units=8, dropout=0.3)      # dropout: the RNG state matters
        model.compile(optimizer=tn.optimizers.Adam(0.01), loss="binary_crossentropy",
                      metrics=["accuracy"])
        return model

    tn.random.seed(7)
    full = build()
    ckpt = tn.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}.tnz"),
                                        save_best_only=False)
    h_full = full.fit(x, y, epochs=5, batch_size=16, validation_split=0.2, verbose=0,
                      callbacks=[ckpt])
    assert sorted(os.listdir(tmp_path)) == [f"ckpt-0{i}.tnz" for i in range(1, 6)]

    tn.random.seed(999)                                  # a different state: load restores it
    resumed = load_model(tmp_path / "ckpt-02.tnz")
    assert resumed.saved_epoch == 2
    h_res = resumed.fit(x, y, epochs=5, batch_size=16, validation_split=0.2, verbose=0,
                        initial_epoch=2)
    assert h_res.epoch == [2, 3, 4]
    assert h_res.history["loss"] == h_full.history["loss"][2:]
    for a, b in zip(full.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_weights_and_load_weights(blobs, tmp_path):
    x, _ = blobs
    model = _trained(blobs)
    path = tmp_path / "w.tnz"
    model.save_weights(path)
    other = small_model(units=6, dropout=0.2)
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    wrong = small_model(units=5)
    with pytest.raises(CheckpointError, match=r"shape \(4, 6\) in the file, expected \(4, 5\)"):
        wrong.load_weights(path)
    with pytest.raises(CheckpointError, match="holds only weights"):
        load_model(path)


def test_subclassed_model_needs_custom_objects(tmp_path):
    class Net(tn.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.d = TinyDense(units)

        def call(self, x, training=False):
            return self.d(x)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    net = Net(units=3)
    x = np.ones((2, 4), np.float32)
    out = net.predict(x)
    net.compile(optimizer="sgd", loss="mse")
    net.save(tmp_path / "net.tnz")
    with pytest.raises(CheckpointError, match="custom_objects"):
        load_model(tmp_path / "net.tnz")
    loaded = load_model(tmp_path / "net.tnz", custom_objects={"Net": Net})
    np.testing.assert_array_equal(loaded.predict(x), out)


def test_save_is_atomic_and_leaves_no_temporary_files(blobs, tmp_path, monkeypatch):
    model = _trained(blobs)
    path = tmp_path / "m.tnz"
    model.save(path)
    good = path.read_bytes()
    assert os.listdir(tmp_path) == ["m.tnz"]

    calls = {"n": 0}
    real = np.lib.format.write_array

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    model.layers[0].weights[0].data[...] += 1.0
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == good                      # the old checkpoint survives
    assert os.listdir(tmp_path) == ["m.tnz"]              # the temporary file is gone


# ---- bad files ------------------------------------------------------------------------

@pytest.fixture
def saved(blobs, tmp_path):
    model = _trained(blobs)
    path = tmp_path / "m.tnz"
    model.save(path)
    return path


def _rewrite(path, drop=(), replace=None):
    """Copy the zip, dropping members and replacing some member bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            data = src.read(info.filename)
            if replace and info.filename in replace:
                data = replace[info.filename]
            dst.writestr(info.filename, data)
    path.write_bytes(buf.getvalue())


def _npy_bytes(arr, allow_pickle=False):
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, allow_pickle=allow_pickle)
    return b.getvalue()


def test_truncated_file_is_a_clear_error(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as err:
        load_model(saved)
    assert str(saved) in str(err.value) and "truncated or corrupt" in str(err.value)


def test_corrupted_array_bytes_are_a_clear_error(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("weights/00000.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 140
    data[start:start + 8] = b"\xff" * 8                   # inside the array's data
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"weight 0 .* corrupt or truncated"):
        load_model(saved)


def test_garbage_and_missing_files(tmp_path):
    bad = tmp_path / "x.tnz"
    bad.write_bytes(b"this is not a zip file at all")
    with pytest.raises(CheckpointError, match="not a valid tinynlp checkpoint"):
        load_model(bad)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_model(tmp_path / "nope.tnz")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match="no config.json"):
        load_model(other)


def test_missing_array_is_named(saved):
    _rewrite(saved, drop=("weights/00002.npy",))
    with pytest.raises(CheckpointError, match=r"weight 2 \('dense_\d+/kernel'.*is missing"):
        load_model(saved)


def test_wrong_shape_is_named(saved):
    _rewrite(saved, replace={"weights/00001.npy": _npy_bytes(np.zeros(7, np.float32))})
    with pytest.raises(CheckpointError, match=r"weight 1 .* shape \(7,\) in the file, "
                                              r"expected \(6,\)"):
        load_model(saved)


def test_wrong_weight_count_is_reported(saved):
    with zipfile.ZipFile(saved) as zf:
        config = json.loads(zf.read("config.json"))
    config["weights"] = config["weights"][:3]
    _rewrite(saved, replace={"config.json": json.dumps(config).encode()})
    with pytest.raises(CheckpointError, match="holds 3 weight arrays but the model has 4"):
        load_model(saved)


def test_pickled_arrays_are_refused_and_never_executed(saved, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = np.empty(1, dtype=object)
    payload[0] = Evil()
    _rewrite(saved, replace={"weights/00000.npy": _npy_bytes(payload, allow_pickle=True)})
    with pytest.raises(CheckpointError, match="cannot read weight 0"):
        load_model(saved)
    assert not marker.exists()


def test_unknown_layer_class_is_a_clear_error(saved):
    with zipfile.ZipFile(saved) as zf:
        config = json.loads(zf.read("config.json"))
    config["architecture"]["config"]["layers"][0]["class_name"] = "os.system"
    _rewrite(saved, replace={"config.json": json.dumps(config).encode()})
    with pytest.raises(CheckpointError, match="unknown layer class 'os.system'"):
        load_model(saved)


def test_bad_json_is_a_clear_error(saved):
    _rewrite(saved, replace={"config.json": b"{not json"})
    with pytest.raises(CheckpointError, match="config.json is not valid JSON"):
        load_model(saved)


def test_nested_sequential_saves_and_loads(tmp_path):
    inner = tn.Sequential([tn.layers.Dense(3, activation="relu")], name="inner")
    model = tn.Sequential([tn.layers.Dense(4, input_shape=(2,)), inner, tn.layers.Dense(1)])
    x = np.ones((2, 2), np.float32)
    out = model.predict(x)
    model.save(tmp_path / "nested.tnz")
    loaded = tn.models.load_model(tmp_path / "nested.tnz")
    np.testing.assert_array_equal(loaded.predict(x), out)
    assert type(loaded.layers[1]) is tn.Sequential


def test_zero_dimensional_weight_round_trips(tmp_path):
    import tinynlp as tn

    class Scaled(tn.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight("scale", (), initializer="ones")

        def call(self, x, training=False):
            return x * self.scale

    model = tn.Sequential([tn.layers.Dense(2, input_shape=(3,)), Scaled()])
    model.predict(np.ones((1, 3), dtype=np.float32))
    model.layers[1].scale.data[...] = 2.5
    path = tmp_path / "m.tnz"
    model.save_weights(path)
    other = tn.Sequential([tn.layers.Dense(2, input_shape=(3,)), Scaled()])
    other.predict(np.ones((1, 3), dtype=np.float32))
    other.load_weights(path)
    assert other.layers[1].scale.shape == ()
    assert float(other.layers[1].scale.data) == 2.5
