"""Inputs that used to end in a raw exception from deep inside NumPy or the standard library
(``NotImplementedError``, ``RuntimeError``, ``AttributeError``, ``TypeError``, ``EOFError``,
``LookupError``, ...) now raise the module's own error type, naming the file and what
is wrong."""

from __future__ import annotations

import gzip
import json
import struct
import warnings
import zipfile

import numpy as np
import pytest

from tinynlp import compress as C
from tinynlp.compress import PrunedFormatError, ShardError
from tinynlp.embeddings import EmbeddingFormatError, KeyedVectors
from tinynlp.models import CheckpointError, load_model
from tinynlp.text import BPETokenizer, Tokenizer, TokenizerFormatError

from . import crafting as K


@pytest.fixture
def tnz(tmp_path):
    model = K.compiled(K.sequential_model())
    model.fit(K.model_inputs(model), np.zeros((2, 1)), epochs=1, verbose=0)
    path = tmp_path / "m.tnz"
    model.save(path)
    return path


def _central_entries(data):
    """Offsets of the central-directory entries of a zip file."""
    out, pos = [], data.find(b"PK\x01\x02")
    while pos != -1:
        out.append(pos)
        pos = data.find(b"PK\x01\x02", pos + 4)
    return out


def _patch_central(path, offset, fmt, value):
    data = bytearray(path.read_bytes())
    for entry in _central_entries(bytes(data)):
        struct.pack_into(fmt, data, entry + offset, value)
    path.write_bytes(bytes(data))


# ---- .tnz ------------------------------------------------------------------------------------

def test_unknown_compression_method_is_a_checkpoint_error(tnz):
    _patch_central(tnz, 10, "<H", 99)           # the compression method of every member
    with pytest.raises(CheckpointError, match=r"m\.tnz: .*compression method 99"):
        load_model(tnz)


def test_encrypted_member_is_a_checkpoint_error(tnz):
    _patch_central(tnz, 8, "<H", 0x1)           # general purpose flag: encrypted
    with pytest.raises(CheckpointError, match=r"m\.tnz: .*encrypted"):
        load_model(tnz)


WRONG_FIELDS = {
    "architecture is a string": lambda c: c.update(architecture="Sequential"),
    "class_name is a number": lambda c: c["architecture"].update(class_name=3),
    "layer config is a list": lambda c: c["architecture"]["config"]["layers"][0].update(
        config=[1, 2]),
    "layers is a dict": lambda c: c["architecture"]["config"].update(layers={"a": 1}),
    "weights is a dict": lambda c: c.update(weights={"0": 1}),
    "weight name is a number": lambda c: c["weights"][0].update(name=7),
    "shape is a string": lambda c: c["weights"][0].update(shape="40x8"),
    "shape holds a float": lambda c: c["weights"][0].update(shape=[40.0, 8]),
    "dtype is an object": lambda c: c["weights"][0].update(dtype="O"),
    "dtype is a list": lambda c: c["weights"][0].update(dtype=["<f4"]),
    "build_input_spec is a number": lambda c: c.update(build_input_spec=5),
    "compile is a list": lambda c: c.update(compile=[1]),
    "optimizer is a number": lambda c: c["compile"].update(optimizer=3),
    "metrics is a number": lambda c: c["compile"].update(metrics=3),
    "slots is a number": lambda c: c["optimizer_state"].update(slots=7),
    "iterations is a string": lambda c: c["optimizer_state"].update(iterations="9"),
    "rng_state is a list": lambda c: c.update(rng_state=[1, 2]),
    "rng_state lacks its keys": lambda c: c.update(rng_state={"bit_generator": "PCG64"}),
    "epoch is a string": lambda c: c.update(epoch="3"),
    "format_version is a bool": lambda c: c.update(format_version=True),
    "deeply nested JSON": lambda c: c.update(epoch=json.loads("[" * 50 + "]" * 50)),
}


@pytest.mark.parametrize("case", sorted(WRONG_FIELDS))
def test_wrong_typed_config_field_is_a_checkpoint_error(tnz, tmp_path, case):
    bad = K.edit_config(tnz, tmp_path / "bad.tnz", WRONG_FIELDS[case])
    with pytest.raises(CheckpointError, match=r"bad\.tnz"):
        load_model(bad)


def test_config_too_deeply_nested_for_the_json_parser_is_a_checkpoint_error(tnz, tmp_path):
    members = K.read_members(tnz)
    members["config.json"] = b"[" * 100_000 + b"]" * 100_000
    K.write_members(tmp_path / "deep.tnz", members)
    with pytest.raises(CheckpointError, match="config.json is not valid JSON"):
        load_model(tmp_path / "deep.tnz")


# ---- sharded checkpoints ---------------------------------------------------------------------

@pytest.fixture
def shards(tmp_path):
    return K.sharded(K.sequential_model(), tmp_path / "ckpt")


BAD_INDEX = {
    "NUL byte in a shard name": lambda ix: ix["weights"][0].update(shard="shard\x00.npy"),
    "offset is a string": lambda ix: ix["weights"][0].update(offset="0"),
    "offset is a bool": lambda ix: ix["weights"][0].update(offset=True),
    "shape is a string": lambda ix: ix["weights"][0].update(shape="40,8"),
    "dtype is a number": lambda ix: ix["weights"][0].update(dtype=4),
    "dtype is an object": lambda ix: ix["weights"][0].update(dtype="O"),
    "shards is a list": lambda ix: ix.update(shards=[1, 2]),
    "nbytes is a string": lambda ix: [v.update(nbytes="9") for v in ix["shards"].values()],
    "weights is a dict": lambda ix: ix.update(weights={"a": 1}),
    "a weight listed twice": lambda ix: ix["weights"].append(dict(ix["weights"][0])),
    "architecture is a string": lambda ix: ix.update(architecture="Sequential"),
    "layer config is a list": lambda ix: ix["architecture"]["config"]["layers"][0].update(
        config=[]),
    "version is a string": lambda ix: ix.update(version="2"),
}


@pytest.mark.parametrize("case", sorted(BAD_INDEX))
def test_malformed_shard_index_is_a_shard_error(shards, case):
    K.edit_index(shards, BAD_INDEX[case])
    with pytest.raises(ShardError):
        C.load_sharded(shards, lazy=False)


def test_shard_index_that_is_not_json_is_a_shard_error(shards):
    (shards / "index.json").write_bytes(b"\xff\xfe{not json")
    with pytest.raises(ShardError, match="index.json"):
        C.load_sharded(shards)


# ---- word vectors ----------------------------------------------------------------------------

@pytest.mark.parametrize("cut", [10, 40, -9])
def test_truncated_gz_vectors_name_the_file(tmp_path, cut):
    path = tmp_path / "v.txt.gz"
    K.small_vectors().save_glove(path)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(EmbeddingFormatError, match=r"v\.txt\.gz: cannot be read"):
        KeyedVectors.load_glove(path)


def test_not_gzip_at_all_names_the_file(tmp_path):
    path = tmp_path / "v.bin.gz"
    path.write_bytes(b"2 3\nplain text, not gzip\n")
    with pytest.raises(EmbeddingFormatError, match=r"v\.bin\.gz: cannot be read"):
        KeyedVectors.load_word2vec_format(path, binary=True)


def test_unknown_unicode_errors_is_a_value_error_naming_the_argument(tmp_path):
    path = tmp_path / "v.bin"
    K.small_vectors().save_word2vec_format(path, binary=True)
    with pytest.raises(ValueError, match="unicode_errors: .*'bogus'"):
        KeyedVectors.load_word2vec_format(path, binary=True, unicode_errors="bogus")


def test_corrupt_mmap_cache_is_rebuilt_from_the_source(tmp_path):
    path = tmp_path / "v.txt"
    kv = K.small_vectors()
    kv.save_glove(path)
    KeyedVectors.load_glove(path, mmap=True)
    meta = tmp_path / "v.txt.tinynlp.json"
    meta.write_bytes(b'{"format": "tinynlp.KeyedVectors", "keys": [1, 2')
    with pytest.warns(UserWarning, match="damaged"):
        again = KeyedVectors.load_glove(path, mmap=True)
    assert again.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(again.vectors, kv.vectors)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # repaired: no warning the second time
        KeyedVectors.load_glove(path, mmap=True)


@pytest.mark.parametrize("meta", [b"not json", b"[1, 2]", b'{"format": "other"}',
                                  b'{"format": "tinynlp.KeyedVectors", "keys": 3, '
                                  b'"vector_size": 4}',
                                  b'{"format": "tinynlp.KeyedVectors", "keys": ["a"], '
                                  b'"vector_size": 4}'])
def test_corrupt_native_files_are_an_embedding_format_error(tmp_path, meta):
    stem = tmp_path / "kv"
    K.small_vectors().save(stem)
    (tmp_path / "kv.json").write_bytes(meta)
    with pytest.raises(EmbeddingFormatError, match=r"kv\.json"):
        KeyedVectors.load(stem)


def test_native_vectors_of_the_wrong_shape_are_an_embedding_format_error(tmp_path):
    stem = tmp_path / "kv"
    K.small_vectors().save(stem)
    np.save(tmp_path / "kv.npy", np.zeros((3, 4), np.float32))
    with pytest.raises(EmbeddingFormatError, match=r"kv\.npy"):
        KeyedVectors.load(stem)


# ---- tokenizers ------------------------------------------------------------------------------

def _config():
    return K.small_tokenizer().get_config()


BAD_TOKENIZER = {
    "missing num_words": lambda c: c.pop("num_words"),
    "missing word_counts": lambda c: c.pop("word_counts"),
    "num_words is a string": lambda c: c.update(num_words="20"),
    "num_words is 0": lambda c: c.update(num_words=0),
    "lower is a string": lambda c: c.update(lower="yes"),
    "split is empty": lambda c: c.update(split=""),
    "filters is a list": lambda c: c.update(filters=["!"]),
    "oov_token is a number": lambda c: c.update(oov_token=1),
    "word_counts is a dict": lambda c: c.update(word_counts={"the": 3}),
    "a count is negative": lambda c: c["word_counts"].__setitem__(0, ["the", -1]),
    "a word is a number": lambda c: c["word_counts"].__setitem__(0, [5, 1]),
    "a word twice": lambda c: c["word_counts"].append(list(c["word_counts"][0])),
    "word_docs is a list": lambda c: c.update(word_docs=[1]),
    "document_count is a float": lambda c: c.update(document_count=1.5),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENIZER))
def test_tokenizer_from_config_names_the_bad_field(case):
    config = json.loads(json.dumps(_config()))
    BAD_TOKENIZER[case](config)
    with pytest.raises(TokenizerFormatError, match="Tokenizer.from_config: "):
        Tokenizer.from_config(config)


def test_tokenizer_from_config_of_a_non_dict():
    with pytest.raises(TokenizerFormatError, match="expected a JSON object"):
        Tokenizer.from_config([1, 2])


def test_tokenizer_files_round_trip_and_name_the_file_when_bad(tmp_path):
    tok = K.small_tokenizer()
    tok.save(tmp_path / "tok.json")
    again = Tokenizer.load(tmp_path / "tok.json")
    assert again.get_config() == tok.get_config()
    # a task's tokenizer.json (the config under "tokenizer") loads too
    (tmp_path / "task.json").write_text(json.dumps({"tokenizer": tok.get_config(), "x": 1}))
    assert Tokenizer.load(tmp_path / "task.json").word_index == tok.word_index
    (tmp_path / "bad.json").write_text("{\"tokenizer\": ")
    with pytest.raises(TokenizerFormatError, match=r"bad\.json"):
        Tokenizer.load(tmp_path / "bad.json")
    saved = json.loads((tmp_path / "tok.json").read_text())
    saved["config"]["word_counts"][0][0] = "cat2"           # edited without the checksum
    (tmp_path / "edited.json").write_text(json.dumps(saved))
    with pytest.raises(TokenizerFormatError, match=r"edited\.json.*checksum"):
        Tokenizer.load(tmp_path / "edited.json")


def test_bpe_errors_are_tokenizer_format_errors_and_value_errors(tmp_path):
    path = tmp_path / "bpe.json"
    K.small_bpe().save(path)
    obj = json.loads(path.read_text())
    obj["merges"][0] = [5, 999]
    path.write_text(json.dumps(obj))
    with pytest.raises(TokenizerFormatError, match=r"bpe\.json: merges\[0\]"):
        BPETokenizer.load(path)
    assert issubclass(TokenizerFormatError, ValueError)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(TokenizerFormatError, match=r"bpe\.json: not a BPETokenizer JSON"):
        BPETokenizer.load(path)


# ---- pruned (CSR) checkpoints -----------------------------------------------------------------

@pytest.fixture
def pruned(tmp_path):
    model = K.pruned_model()
    path = tmp_path / "p.npz"
    C.save_pruned(model, path)
    return path


def _rewrite_npz(path, out, **arrays):
    members = K.read_members(path)
    for key, value in arrays.items():
        name = key + ".npy"
        if value is None:
            members.pop(name)
        else:
            members[name] = K.npy_bytes(value)
    K.write_members(out, members, deflate=set(members))
    return out


def _index(path):
    with zipfile.ZipFile(path) as zf, zf.open("__index__.npy") as f:
        return json.loads(str(np.lib.format.read_array(f)))


def _csr_weight(path):
    return next(i for i, e in enumerate(_index(path)["weights"]) if e["format"] == "csr")


@pytest.mark.parametrize("case", ["indptr decreasing", "column out of range", "values dtype",
                                  "indices 2-D", "member missing", "index not JSON",
                                  "weights not a list", "format unknown", "shape negative"])
def test_corrupt_pruned_checkpoint_is_a_pruned_format_error(pruned, tmp_path, case):
    i = _csr_weight(pruned)
    with np.load(pruned) as z:
        indptr, indices = z[f"w{i}.indptr"], z[f"w{i}.indices"]
    index = _index(pruned)
    edits = {
        "indptr decreasing": {f"w{i}.indptr": indptr[::-1].copy()},
        "column out of range": {f"w{i}.indices": indices + 1000},
        "values dtype": {f"w{i}.values": np.zeros(len(indices), np.float64)},
        "indices 2-D": {f"w{i}.indices": indices.reshape(1, -1)},
        "member missing": {f"w{i}.values": None},
        "index not JSON": {"__index__": np.array("{not json")},
        "weights not a list": {"__index__": np.array(json.dumps(dict(index, weights=3)))},
        "format unknown": {"__index__": np.array(json.dumps(dict(
            index, weights=[dict(e, format="coo") for e in index["weights"]])))},
        "shape negative": {"__index__": np.array(json.dumps(dict(
            index, weights=[dict(e, shape=[-1]) for e in index["weights"]])))},
    }[case]
    bad = _rewrite_npz(pruned, tmp_path / "bad.npz", **edits)
    with pytest.raises(PrunedFormatError, match=r"bad\.npz"):
        C.load_pruned(bad)


def test_gzip_module_agrees_a_truncated_stream_is_bad(tmp_path):
    """(The premise of the vector-file tests: gzip itself raises EOFError here.)"""
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"a 1 2\n" * 100)[:-9])
    with pytest.raises(EOFError), gzip.open(path) as f:
        f.read()
