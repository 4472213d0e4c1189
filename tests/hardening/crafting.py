"""Small genuine files of every format a loader reads, and the crafted variants of them
that the hardening tests feed back: configs asking for huge shapes, forged ``.npy``
headers, deflated members that expand hugely, absurd headers."""

from __future__ import annotations

import gzip
import io
import json
import os
import zipfile

import numpy as np

import tinynlp as tn
from tinynlp import compress as C
from tinynlp.integrity import seal


# ---- genuine models ------------------------------------------------------------------------

def sequential_model(input_shape=(5,)):
    """Embedding → pooling → Dense, built (from ``input_shape``, or, when None, by a call:
    then only the recorded input spec can rebuild it)."""
    tn.random.seed(3)
    model = tn.Sequential([tn.layers.Embedding(40, 8, input_shape=input_shape, name="emb"),
                           tn.layers.GlobalAveragePooling1D(name="pool"),
                           tn.layers.Dense(1, activation="sigmoid", name="out")])
    if input_shape is None:
        model.predict(np.ones((2, 5), dtype=np.int64))
    return model


def pruned_model(amount=0.7):
    """A Sequential with a kernel big enough to be stored as CSR once pruned."""
    tn.random.seed(6)
    model = tn.Sequential([tn.layers.Embedding(40, 8, input_shape=(5,), name="emb"),
                           tn.layers.GlobalAveragePooling1D(name="pool"),
                           tn.layers.Dense(32, activation="relu", name="hidden"),
                           tn.layers.Dense(1, activation="sigmoid", name="out")])
    C.prune_magnitude(model, amount=amount)
    return model


def functional_model():
    """Two inputs, a shared embedding, attention and a dense head."""
    tn.random.seed(4)
    ids = tn.Input(shape=(None,), dtype="int32", name="ids")
    other = tn.Input(shape=(None,), dtype="int32", name="other")
    embed = tn.layers.Embedding(30, 8, name="shared_emb")
    a, b = embed(ids), embed(other)
    att = tn.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(a, b)
    pooled = tn.layers.GlobalAveragePooling1D(name="gap")(att)
    out = tn.layers.Dense(2, activation="softmax", name="head")(pooled)
    return tn.Model([ids, other], out, name="fun")


def gpt_model():
    tn.random.seed(5)
    gpt = tn.models.GPT(vocab_size=50, sequence_length=16, num_layers=1, num_heads=2,
                        hidden_dim=8, intermediate_dim=16)
    gpt(np.zeros((1, 4), dtype=np.int64))
    return gpt


def model_inputs(model):
    """A small batch the model accepts."""
    rng = np.random.default_rng(0)
    if isinstance(model, tn.models.GPT):
        return rng.integers(0, 50, (2, 6))
    if len(getattr(model, "inputs", [None])) == 2:
        return [rng.integers(0, 30, (2, 5)), rng.integers(0, 30, (2, 4))]
    return rng.integers(0, 40, (2, 5))


def compiled(model):
    model.compile(optimizer="adam", loss="mse")
    return model


# ---- zip surgery ---------------------------------------------------------------------------

def read_members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_members(path, members, deflate=()):
    """A zip holding ``members`` ({name: bytes}); names in ``deflate`` are deflated."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if name in deflate
                        else zipfile.ZIP_STORED)


def npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def npy_header_bytes(shape, dtype="<f4"):
    """Only the ``.npy`` header declaring ``shape`` (no data)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def edit_config(path, out, edit):
    """Copy the .tnz ``path`` to ``out`` with ``edit(config)`` applied to its config.json."""
    members = read_members(path)
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    write_members(out, members)
    return out


def first_layer_config(config):
    return config["architecture"]["config"]["layers"][0]["config"]


def add_deflated_zeros_member(src, out, name, header, data_bytes):
    """Copy the zip ``src`` to ``out`` with member ``name`` replaced by ``header`` followed
    by ``data_bytes`` zero bytes, deflated (streamed: little memory here)."""
    members = read_members(src)
    members.pop(name)
    write_members(out, members)
    with zipfile.ZipFile(out, "a") as zf:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as f:
            f.write(header)
            chunk = bytes(1 << 22)
            left = data_bytes
            while left > 0:
                f.write(chunk[:min(left, len(chunk))])
                left -= len(chunk)
    return out


# ---- the other formats ---------------------------------------------------------------------

def small_vectors():
    rng = np.random.default_rng(1)
    words = ["the", "cat", "sat", "on", "mat", "dog", "ran", "héllo"]
    return tn.embeddings.KeyedVectors(words, rng.normal(size=(len(words), 4)).astype("f4"))


def small_tokenizer():
    tok = tn.text.Tokenizer(num_words=20, oov_token="<OOV>")
    tok.fit_on_texts(["the cat sat on the mat", "the dog ran", "a cat and a dog"])
    return tok


def small_bpe():
    return tn.text.BPETokenizer.train(["low lower lowest newer wider"] * 20, vocab_size=270)


def word2vec_binary_header(path, count, dim, body=b"", compress=False):
    data = f"{count} {dim}\n".encode() + body
    if compress:
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    return path


def sharded(model, folder, max_shard_size="1kB"):
    C.save_sharded(model, folder, max_shard_size=max_shard_size)
    return folder


def edit_index(folder, edit):
    path = os.path.join(folder, "index.json")
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    edit(index)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(seal(index), f)   # as an attacker would: the checksum recomputed
