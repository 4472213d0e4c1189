"""Sharded checkpoints: round trip, lazy loading, layer-by-layer inference, bad indexes."""

import json
import os

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import compress as C
from tinynlp.integrity import seal


def _model():
    m = tn.Sequential([tn.layers.Embedding(300, 16, mask_zero=True),
                       tn.layers.LSTM(12, return_sequences=True),
                       tn.layers.GlobalMaxPooling1D(),
                       tn.layers.Dense(8, activation="relu"),
                       tn.layers.Dense(1, activation="sigmoid")])
    x = np.random.default_rng(0).integers(0, 300, (6, 9))
    x[0, 5:] = 0
    return m, x, m.predict(x)


@pytest.fixture
def saved(tmp_path):
    m, x, y = _model()
    folder = tmp_path / "ckpt"
    C.save_sharded(m, folder, max_shard_size="4kB")
    return m, x, y, folder


def test_shards_respect_the_size_limit_and_index_lists_every_weight(saved):
    m, _, _, folder = saved
    index = json.loads((folder / "index.json").read_text())
    shards = sorted(p.name for p in folder.glob("shard-*.npy"))
    assert len(shards) > 1 and sorted(index["shards"]) == shards
    assert [e["name"] for e in index["weights"]] == [p.name for p in m.weights]
    for e in index["weights"]:
        p = next(p for p in m.weights if p.name == e["name"])
        assert tuple(e["shape"]) == p.shape and np.dtype(e["dtype"]) == p.dtype
    for name in shards:
        arr = np.load(folder / name)
        members = [e for e in index["weights"] if e["shard"] == name]
        # only a single weight bigger than the limit may exceed it
        assert arr.nbytes <= 4000 or len(members) == 1
    assert index["architecture"]["class_name"] == "Sequential"


@pytest.mark.parametrize("lazy", [True, False])
def test_round_trip_predictions_equal(saved, lazy):
    _, x, y, folder = saved
    loaded = C.load_sharded(folder, lazy=lazy)
    np.testing.assert_array_equal(loaded.predict(x), y)


def test_lazy_reads_a_layer_only_when_it_runs(saved):
    m, x, y, folder = saved
    loaded = C.load_sharded(folder, lazy=True)
    ckpt = loaded.sharded_checkpoint
    assert ckpt.loaded == []
    loaded.layers[0](x)   # only the embedding runs
    assert ckpt.loaded == [m.layers[0].embeddings.name]
    emb = loaded.layers[0].embeddings.data
    assert isinstance(emb, np.memmap) or isinstance(emb.base, np.memmap)
    loaded.predict(x)
    assert sorted(ckpt.loaded) == sorted(p.name for p in m.weights)


def test_layer_by_layer_predict_equals_predict(saved):
    _, x, y, folder = saved
    np.testing.assert_array_equal(C.layer_by_layer_predict(folder, x), y)
    np.testing.assert_array_equal(C.layer_by_layer_predict(folder, x, batch_size=4), y)


def test_layer_by_layer_peak_memory_below_loading_everything(tmp_path):
    m = tn.Sequential([tn.layers.Dense(400, activation="relu"), tn.layers.Dense(400),
                       tn.layers.Dense(400), tn.layers.Dense(2)])
    x = np.random.default_rng(0).standard_normal((4, 400)).astype(np.float32)
    y = m.predict(x)
    C.save_sharded(m, tmp_path / "big", max_shard_size="1MB")
    weights_bytes = sum(p.data.nbytes for p in m.weights)

    def full():
        return C.load_sharded(tmp_path / "big", lazy=False).predict(x)

    y_full, peak_full = C.peak_memory(full)
    y_lbl, peak_lbl = C.peak_memory(C.layer_by_layer_predict, tmp_path / "big", x)
    np.testing.assert_array_equal(y_full, y)
    np.testing.assert_array_equal(y_lbl, y)
    assert peak_full >= weights_bytes
    assert peak_lbl < 0.6 * weights_bytes


# ---- errors -----------------------------------------------------------------------------

def _edit_index(folder, fn):
    """Edit the index as an attacker would: the checksum recomputed, so that the check
    under test (not the checksum) is what refuses the file."""
    path = folder / "index.json"
    index = json.loads(path.read_text())
    fn(index)
    path.write_text(json.dumps(seal(index)))
    return index


def test_an_index_edited_without_its_checksum_is_refused(saved):
    _, _, _, folder = saved
    path = folder / "index.json"
    index = json.loads(path.read_text())
    index["weights"][0]["offset"] += 64
    path.write_text(json.dumps(index))
    with pytest.raises(C.ShardError, match="checksum"):
        C.load_sharded(folder)


def test_a_damaged_shard_is_refused_by_its_checksum(saved):
    _, _, _, folder = saved
    shard = sorted(folder.glob("shard-*.npy"))[0]
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0x40
    shard.write_bytes(bytes(data))
    with pytest.raises(C.ShardError, match=f"{shard.name}.*checksum"):
        C.load_sharded(folder, lazy=False)


@pytest.mark.parametrize("bad", ["../outside.npy", "/etc/passwd", "sub/shard.npy", ".."])
def test_shard_outside_the_folder_is_refused(saved, bad):
    _, _, _, folder = saved
    (folder.parent / "outside.npy").write_bytes(b"")
    _edit_index(folder, lambda ix: ix["weights"][1].update(shard=bad))
    with pytest.raises(C.ShardError, match="outside the checkpoint folder") as err:
        C.load_sharded(folder)
    assert json.loads((folder / "index.json").read_text())["weights"][1]["name"] in str(err.value)


def test_symlink_leading_out_is_refused(saved, tmp_path):
    _, _, _, folder = saved
    target = tmp_path / "elsewhere.npy"
    np.save(target, np.zeros(10, np.uint8))
    os.symlink(target, folder / "link.npy")
    _edit_index(folder, lambda ix: ix["weights"][0].update(shard="link.npy"))
    with pytest.raises(C.ShardError, match="outside"):
        C.load_sharded(folder)


def test_missing_shard(saved):
    _, x, _, folder = saved
    index = json.loads((folder / "index.json").read_text())
    victim = index["weights"][-1]
    os.remove(folder / victim["shard"])
    loaded = C.load_sharded(folder)   # lazy: nothing read yet
    with pytest.raises(C.ShardError, match="missing") as err:
        loaded.predict(x)
    assert victim["shard"] in str(err.value)
    with pytest.raises(C.ShardError, match="missing"):
        C.layer_by_layer_predict(folder, x)


def test_shard_of_wrong_dtype_or_size(saved):
    _, x, _, folder = saved
    index = json.loads((folder / "index.json").read_text())
    shard = index["weights"][0]["shard"]
    np.save(folder / shard, np.zeros((3, 4), np.float32))
    with pytest.raises(C.ShardError, match="uint8") as err:
        C.load_sharded(folder).predict(x)
    assert index["weights"][0]["name"] in str(err.value) and shard in str(err.value)
    np.save(folder / shard, np.zeros(10, np.uint8))
    _edit_index(folder, lambda ix: ix["shards"][shard].update(nbytes=10))
    with pytest.raises(C.ShardError, match="only 10 bytes") as err:
        C.load_sharded(folder).predict(x)
    assert index["weights"][0]["name"] in str(err.value)


def test_weight_of_wrong_shape_in_index(saved):
    _, x, _, folder = saved
    ix = _edit_index(folder, lambda ix: ix["weights"][1].update(shape=[16, 40]))
    with pytest.raises(C.ShardError, match=ix["weights"][1]["name"] + ".*shape"):
        C.load_sharded(folder).predict(x)


def test_bad_index_files(tmp_path):
    with pytest.raises(C.ShardError, match="index.json"):
        C.load_sharded(tmp_path)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(C.ShardError, match="JSON"):
        C.load_sharded(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(C.ShardError, match="format"):
        C.load_sharded(tmp_path)


def test_max_shard_size_parsing(tmp_path):
    from tinynlp.compress._utils import parse_size
    assert parse_size("2MB") == 2_000_000 and parse_size("1KiB") == 1024
    assert parse_size(500) == 500 and parse_size("1.5kB") == 1500
    for bad in ("lots", "-1MB", 0):
        with pytest.raises(ValueError, match="max_shard_size"):
            parse_size(bad)
