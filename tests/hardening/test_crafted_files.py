"""Crafted files, loaded in a child process whose address space is limited
(``RLIMIT_AS``: what it uses after the warm-up + LIMIT_MB): each is refused with the
loader's own error type, quickly, without allocating what the file claims.

The cases are the ones the hardening issue found: a 9 kB ``.tnz`` whose config asks for
``Embedding(input_dim=2e7)`` (or ``1e12``), forged ``.npy`` headers, a deflated member
that expands hugely, an absurd word2vec dimension, shard indexes asking for huge arrays,
and the same for a functional model and a GPT.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinynlp import compress as C

from . import crafting as K

ROOT = Path(__file__).resolve().parents[2]
LIMIT_MB = 256

#: case name -> the error class the loader must raise
EXPECTED = {}


def _case(cases, name, loader, path, error):
    cases.append([name, loader, str(path)])
    EXPECTED[name] = error


def _tnz_cases(tmp, cases, warmup):
    seq = K.sequential_model()
    good = tmp / "seq.tnz"
    seq.save(good)
    warmup.append(["load_model", str(good)])

    def emb_dim(n):
        return lambda c: K.first_layer_config(c).update(input_dim=n)

    for n, tag in ((20_000_000, "2e7"), (10**12, "1e12")):
        path = K.edit_config(good, tmp / f"emb{tag}.tnz", emb_dim(n))
        assert path.stat().st_size < 12_000          # a ~9 kB file
        _case(cases, f"tnz_embedding_{tag}", "load_model", path, "CheckpointError")

    def emb_and_manifest(c):
        K.first_layer_config(c)["input_dim"] = 20_000_000
        c["weights"][0]["shape"] = [20_000_000, 8]
    _case(cases, "tnz_manifest_agrees_with_config", "load_model",
          K.edit_config(good, tmp / "manifest.tnz", emb_and_manifest), "CheckpointError")

    members = K.read_members(good)
    config = json.loads(members["config.json"])
    emb_and_manifest(config)
    members["config.json"] = json.dumps(config).encode()
    members["weights/00000.npy"] = K.npy_header_bytes((20_000_000, 8)) + bytes(64)
    K.write_members(tmp / "forged_header.tnz", members)
    _case(cases, "tnz_forged_npy_header", "load_model", tmp / "forged_header.tnz",
          "CheckpointError")

    # a deflated member whose data expands to 300 MB: its header says (300e6/4,) while
    # the manifest says (40, 8) -- refused after reading the header only ...
    n = 75_000_000
    K.add_deflated_zeros_member(good, tmp / "bomb.tnz", "weights/00000.npy",
                                K.npy_header_bytes((n,)), 4 * n)
    assert (tmp / "bomb.tnz").stat().st_size < 2_000_000
    _case(cases, "tnz_deflate_bomb", "load_model", tmp / "bomb.tnz", "CheckpointError")
    # ... and one whose header matches the manifest but which holds 300 MB of data
    K.add_deflated_zeros_member(good, tmp / "bomb2.tnz", "weights/00000.npy",
                                K.npy_header_bytes((40, 8)), 4 * n)
    _case(cases, "tnz_deflate_bomb_behind_a_true_header", "load_model", tmp / "bomb2.tnz",
          "CheckpointError")

    unbuilt = tmp / "seq_called.tnz"          # built by a call: rebuilt from its input spec
    K.sequential_model(input_shape=None).save(unbuilt)
    warmup.append(["load_model", str(unbuilt)])

    def spec(c):
        assert c["build_input_spec"] == [[[5], "<i8"]]
        c["build_input_spec"] = [[[10**9], "<i8"]]
    _case(cases, "tnz_huge_build_input", "load_model",
          K.edit_config(unbuilt, tmp / "spec.tnz", spec), "CheckpointError")

    fun = K.functional_model()
    fun_path = tmp / "fun.tnz"
    fun.save(fun_path)
    warmup.append(["load_model", str(fun_path)])

    def fun_layer(name, **changes):
        def edit(c):
            for layer in c["architecture"]["config"]["layers"]:
                if layer["name"] == name:
                    layer["config"].update(changes)
        return edit
    _case(cases, "functional_embedding_2e7", "load_model",
          K.edit_config(fun_path, tmp / "fun_emb.tnz",
                        fun_layer("shared_emb", input_dim=20_000_000)), "CheckpointError")
    _case(cases, "functional_attention_1e6_heads", "load_model",
          K.edit_config(fun_path, tmp / "fun_mha.tnz", fun_layer("mha", num_heads=10**6)),
          "CheckpointError")
    _case(cases, "functional_huge_input", "load_model",
          K.edit_config(fun_path, tmp / "fun_in.tnz",
                        fun_layer("ids", batch_shape=[None, 10**9])), "CheckpointError")

    gpt = K.gpt_model()
    gpt_path = tmp / "gpt.tnz"
    gpt.save(gpt_path)
    warmup.append(["load_model", str(gpt_path)])

    def gpt_cfg(**changes):
        return lambda c: c["architecture"]["config"].update(changes)
    _case(cases, "gpt_vocab_1e9", "load_model",
          K.edit_config(gpt_path, tmp / "gpt_vocab.tnz", gpt_cfg(vocab_size=10**9)),
          "CheckpointError")
    _case(cases, "gpt_sequence_length_1e9", "load_model",
          K.edit_config(gpt_path, tmp / "gpt_len.tnz", gpt_cfg(sequence_length=10**9)),
          "CheckpointError")


def _shard_cases(tmp, cases, warmup):
    seq = K.sequential_model()
    good = K.sharded(seq, tmp / "shards_good")
    warmup.append(["load_sharded_eager", str(good)])
    for tag, edit in (
            ("weight_shape_1e12", lambda ix: ix["weights"][0].update(shape=[10**6, 10**6])),
            ("embedding_2e7", lambda ix: ix["architecture"]["config"]["layers"][0]["config"]
             .update(input_dim=20_000_000)),
            ("both_2e7", lambda ix: (ix["weights"][0].update(shape=[20_000_000, 8]),
                                     ix["architecture"]["config"]["layers"][0]["config"]
                                     .update(input_dim=20_000_000))),
            ("huge_build_input", lambda ix: ix["architecture"].update(
                build_input_spec=[[[10**9], "<i8"]]))):
        folder = K.sharded(seq, tmp / f"shards_{tag}")
        K.edit_index(folder, edit)
        _case(cases, f"shards_{tag}", "load_sharded_eager", folder, "ShardError")

    fun = K.functional_model()
    warmup.append(["load_sharded_eager", str(K.sharded(fun, tmp / "shards_fun_good"))])
    folder = K.sharded(fun, tmp / "shards_fun")
    K.edit_index(folder, lambda ix: [layer["config"].update(input_dim=20_000_000)
                                     for layer in ix["architecture"]["config"]["layers"]
                                     if layer["name"] == "shared_emb"])
    _case(cases, "shards_functional_embedding_2e7", "load_sharded", folder, "ShardError")


def _other_cases(tmp, cases, warmup):
    kv = K.small_vectors()
    kv.save_word2vec_format(tmp / "good.bin", binary=True)
    warmup.append(["word2vec_binary", str(tmp / "good.bin")])
    K.word2vec_binary_header(tmp / "dim.bin", 1, 10**9, b"word " + bytes(64))
    _case(cases, "word2vec_dim_1e9", "word2vec_binary", tmp / "dim.bin", "EmbeddingFormatError")
    K.word2vec_binary_header(tmp / "dim.bin.gz", 3, 10**9, b"word " + bytes(64), compress=True)
    _case(cases, "word2vec_gz_dim_1e9", "word2vec_binary", tmp / "dim.bin.gz",
          "EmbeddingFormatError")
    K.word2vec_binary_header(tmp / "word.bin.gz", 1, 4, b"x" * 300_000_000, compress=True)
    _case(cases, "word2vec_gz_300MB_word", "word2vec_binary", tmp / "word.bin.gz",
          "EmbeddingFormatError")
    with open(tmp / "line.txt.gz", "wb") as f:
        f.write(gzip.compress(b"w" + b" 0" * 150_000_000, mtime=0))
    _case(cases, "glove_gz_300MB_line", "glove", tmp / "line.txt.gz", "EmbeddingFormatError")

    C.save_pruned(K.pruned_model(), tmp / "pruned.npz")
    warmup.append(["load_pruned", str(tmp / "pruned.npz")])
    members = K.read_members(tmp / "pruned.npz")
    index = json.loads(str(np.load(tmp / "pruned.npz")["__index__"]))
    index["weights"][0].update(shape=[10**6, 10**6], format="csr")
    members["__index__.npy"] = K.npy_bytes(np.array(json.dumps(index)))
    members["w0.indptr.npy"] = K.npy_bytes(np.zeros(10**6 + 1, np.int32))
    members["w0.indices.npy"] = K.npy_bytes(np.zeros(0, np.uint16))
    members["w0.values.npy"] = K.npy_bytes(np.zeros(0, np.float32))
    K.write_members(tmp / "pruned_huge.npz", members, deflate=set(members))
    _case(cases, "pruned_csr_1e12_dense", "load_pruned", tmp / "pruned_huge.npz", "PrunedFormatError")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crafted")
    cases, warmup = [], []
    _tnz_cases(tmp, cases, warmup)
    _shard_cases(tmp, cases, warmup)
    _other_cases(tmp, cases, warmup)
    spec = tmp / "cases.json"
    spec.write_text(json.dumps({"limit_mb": LIMIT_MB, "warmup": warmup, "cases": cases}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-m", "tests.hardening.memlimit", str(spec)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out) == set(_names()) == set(EXPECTED)
    return out


def _names():
    # the parametrisation needs the names before the fixture runs
    return ["tnz_embedding_2e7", "tnz_embedding_1e12", "tnz_manifest_agrees_with_config",
            "tnz_forged_npy_header", "tnz_deflate_bomb", "tnz_deflate_bomb_behind_a_true_header",
            "tnz_huge_build_input", "functional_embedding_2e7",
            "functional_attention_1e6_heads", "functional_huge_input", "gpt_vocab_1e9",
            "gpt_sequence_length_1e9", "shards_weight_shape_1e12", "shards_embedding_2e7",
            "shards_both_2e7", "shards_huge_build_input", "shards_functional_embedding_2e7",
            "word2vec_dim_1e9", "word2vec_gz_dim_1e9", "word2vec_gz_300MB_word",
            "glove_gz_300MB_line", "pruned_csr_1e12_dense"]


@pytest.mark.slow
@pytest.mark.parametrize("name", _names())
def test_crafted_file_is_refused_with_the_loaders_error_within_the_memory_limit(
        outcomes, name):
    got = outcomes[name]
    assert got["error"] == EXPECTED[name], got
    assert got["module"].startswith("tinynlp."), got
    assert got["seconds"] < 20, got

