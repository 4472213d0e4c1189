"""KeyedVectors: file formats, malformed files, similarity queries, to_matrix."""

import gzip
import os

import numpy as np
import pytest

from tinynlp.embeddings import EmbeddingFormatError, KeyedVectors


def small_kv(n=30, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    keys = [f"w{i}" for i in range(n)] + ["héllo"]
    return KeyedVectors(keys, rng.normal(size=(n + 1, dim)).astype(np.float32))


def assert_same(a, b):
    assert a.index_to_key == b.index_to_key
    assert a.vectors.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(a.vectors), np.asarray(b.vectors))


@pytest.mark.parametrize("name", ["v.txt", "v.txt.gz"])
def test_glove_round_trip_exact(tmp_path, name):
    kv = small_kv()
    path = tmp_path / name
    kv.save_glove(path)
    if name.endswith(".gz"):
        with open(path, "rb") as f:
            assert f.read(2) == b"\x1f\x8b"
    back = KeyedVectors.load_glove(path)
    assert_same(kv, back)
    assert back.vector_size == 6 and len(back) == 31


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("name", ["v.w2v", "v.w2v.gz"])
def test_word2vec_round_trip_exact(tmp_path, binary, name):
    kv = small_kv()
    path = tmp_path / name
    kv.save_word2vec_format(path, binary=binary)
    assert_same(kv, KeyedVectors.load_word2vec_format(path, binary=binary))


def test_word2vec_text_header(tmp_path):
    kv = small_kv(n=3, dim=2)
    kv.save_word2vec_format(tmp_path / "a.txt")
    first = (tmp_path / "a.txt").read_text(encoding="utf-8").splitlines()[0]
    assert first == "4 2"


def test_native_save_and_mmap(tmp_path):
    kv = small_kv()
    kv.save(tmp_path / "kv")
    back = KeyedVectors.load(tmp_path / "kv", mmap="r")
    assert isinstance(back.vectors, np.memmap)
    assert_same(kv, back)
    assert back.most_similar("w1", topn=3) == kv.most_similar("w1", topn=3)


def test_load_glove_mmap_uses_cache_and_refreshes(tmp_path):
    kv = small_kv()
    path = tmp_path / "g.txt"
    kv.save_glove(path)
    a = KeyedVectors.load_glove(path, mmap=True)
    assert isinstance(a.vectors, np.memmap)
    assert os.path.exists(str(path) + ".tinynlp.npy")
    assert_same(kv, a)
    # a newer text file invalidates the cache
    kv2 = small_kv(seed=1)
    kv2.save_glove(path)
    t = os.path.getmtime(str(path) + ".tinynlp.npy") + 5
    os.utime(path, (t, t))
    assert_same(kv2, KeyedVectors.load_glove(path, mmap=True))


# ------------------------------------------------------------ malformed files
def write(tmp_path, text, name="bad.txt"):
    p = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(p, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "text, lineno, fragment",
    [
        ("a 1 2 3\nb 1 2\nc 1 2 3\n", 2, "expected 3 values, got 2"),
        ("a 1 2 3\nb 1 x 3\n", 2, "bad float 'x'"),
        ("a 1 2 3\nb 1 2 3\nc 0 0 0\na 3 3 3\n", 4, "duplicate word 'a'"),
        ("a 1 2 3\n\nb 1 2 3\n", 2, "empty line"),
    ],
)
@pytest.mark.parametrize("name", ["bad.txt", "bad.txt.gz"])
def test_malformed_glove_names_file_and_line(tmp_path, text, lineno, fragment, name):
    p = write(tmp_path, text, name)
    with pytest.raises(EmbeddingFormatError) as e:
        KeyedVectors.load_glove(p)
    assert f"{p}:{lineno}:" in str(e.value)
    assert fragment in str(e.value)
    assert e.value.lineno == lineno


def test_malformed_skip_counts(tmp_path):
    p = write(tmp_path, "a 1 2 3\nb 1 2\nc 1 q 3\na 0 0 0\nd 4 5 6\n")
    with pytest.warns(UserWarning, match="skipped 3 malformed"):
        kv = KeyedVectors.load_glove(p, on_error="skip")
    assert kv.index_to_key == ["a", "d"]
    assert [ln for ln, _ in kv.skipped_lines] == [2, 3, 4]
    np.testing.assert_array_equal(kv["a"], [1, 2, 3])


def test_empty_file(tmp_path):
    p = write(tmp_path, "")
    with pytest.raises(EmbeddingFormatError, match="empty"):
        KeyedVectors.load_glove(p)
    with pytest.raises(EmbeddingFormatError, match=r"bad\.txt:1: empty file"):
        KeyedVectors.load_word2vec_format(p)


def test_word2vec_header_errors(tmp_path):
    p = write(tmp_path, "hello world\na 1 2\n")
    with pytest.raises(EmbeddingFormatError, match=r":1: expected a 'count dim' header"):
        KeyedVectors.load_word2vec_format(p)
    p = write(tmp_path, "3 2\na 1 2\nb 3 4\n", "short.txt")
    with pytest.raises(EmbeddingFormatError, match=r"short\.txt:4: file ends after 2 vectors"):
        KeyedVectors.load_word2vec_format(p)
    p = write(tmp_path, "2 2\na 1 2\nb 3 4 5\n", "dim.txt")
    with pytest.raises(EmbeddingFormatError, match=r"dim\.txt:3: word 'b': expected 2 values, got 3"):
        KeyedVectors.load_word2vec_format(p)


def test_glove_loader_detects_word2vec_header(tmp_path):
    kv = small_kv(n=3, dim=2)
    kv.save_word2vec_format(tmp_path / "h.txt")
    with pytest.raises(EmbeddingFormatError, match=r"h\.txt:1: '4 2' looks like a word2vec"):
        KeyedVectors.load_glove(tmp_path / "h.txt")
    kv.save_glove(tmp_path / "g.txt")
    assert_same(kv, KeyedVectors.load_word2vec_format(tmp_path / "g.txt", no_header=True))


def test_binary_truncated(tmp_path):
    kv = small_kv(n=4, dim=3)
    p = tmp_path / "v.bin"
    kv.save_word2vec_format(p, binary=True)
    data = p.read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-7])
    with pytest.raises(EmbeddingFormatError, match=r"cut\.bin:\d+: record 5"):
        KeyedVectors.load_word2vec_format(tmp_path / "cut.bin", binary=True)


# --------------------------------------------------------------- lookups
def test_lookup_contains_len():
    kv = small_kv()
    assert "w3" in kv and "zzz" not in kv and len(kv) == 31
    np.testing.assert_array_equal(kv["w3"], kv.vectors[3])
    m = kv[["w1", "w5", "w1"]]
    assert m.shape == (3, 6)
    np.testing.assert_array_equal(m[2], kv.vectors[1])
    assert kv.key_to_index["héllo"] == 30
    with pytest.raises(KeyError, match="zzz"):
        kv["zzz"]


def brute_force(kv, pos, neg, topn):
    V = kv.vectors.astype(np.float64)
    U = V / np.linalg.norm(V, axis=1, keepdims=True)
    q = sum(U[kv.key_to_index[w]] for w in pos) - sum(U[kv.key_to_index[w]] for w in neg)
    q = q / np.linalg.norm(q)
    sims = U @ q
    ex = {kv.key_to_index[w] for w in pos + neg}
    order = [i for i in np.argsort(-sims) if i not in ex][:topn]
    return [kv.index_to_key[i] for i in order], sims[order]


@pytest.mark.parametrize("pos, neg", [(["w1"], []), (["w1", "w2"], ["w3"]), ([], ["w7"])])
def test_most_similar_matches_brute_force(pos, neg):
    kv = small_kv(n=200, dim=8)
    got = kv.most_similar(positive=pos, negative=neg, topn=7)
    words, sims = brute_force(kv, pos, neg, 7)
    assert [w for w, _ in got] == words
    np.testing.assert_allclose([s for _, s in got], sims, rtol=1e-5, atol=1e-6)


def test_most_similar_str_and_vector_and_topn_none():
    kv = small_kv()
    assert kv.most_similar("w1", topn=4) == kv.most_similar(positive=["w1"], topn=4)
    by_vec = kv.most_similar(positive=[kv["w1"]], topn=5)
    assert by_vec[0][0] == "w1"  # vectors are not excluded
    all_sims = kv.most_similar("w1", topn=None)
    assert all_sims.shape == (31,)
    assert all_sims[1] == pytest.approx(1.0, abs=1e-6)


def test_similarity_analogy_doesnt_match():
    keys = ["man", "woman", "king", "queen", "apple"]
    vecs = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [-1, 0, 0.2]], dtype=np.float32)
    kv = KeyedVectors(keys, vecs)
    assert kv.similarity("man", "king") == pytest.approx(1 / np.sqrt(2))
    assert kv.analogy("man", "woman", "king") == "queen"
    assert kv.doesnt_match(["man", "woman", "king", "apple"]) == "apple"
    with pytest.warns(UserWarning, match="ignoring"):
        assert kv.doesnt_match(["man", "woman", "king", "apple", "nope"]) == "apple"


# ------------------------------------------------------------ to_matrix
class _Vocab:
    def __init__(self, itos):
        self.itos = itos


def test_to_matrix_itos_and_dict():
    kv = small_kv()
    vocab = _Vocab(["<pad>", "<unk>", "w2", "W5", "nothere"])
    m, n_oov = kv.to_matrix(vocab, oov="zeros")
    assert m.shape == (5, 6) and m.dtype == np.float32
    assert n_oov == 2  # <unk>, nothere  (W5 found via lower-case)
    np.testing.assert_array_equal(m[0], 0)
    np.testing.assert_array_equal(m[2], kv["w2"])
    np.testing.assert_array_equal(m[3], kv["w5"])
    np.testing.assert_array_equal(m[4], 0)
    m2, n2 = kv.to_matrix({"<pad>": 0, "w2": 1, "zz": 2}, oov="random", scale=0.5, seed=3)
    assert n2 == 1
    np.testing.assert_array_equal(m2[0], 0)
    np.testing.assert_array_equal(m2[1], kv["w2"])
    assert np.all(m2[2] != 0) and np.abs(m2[2]).max() < 5
    with pytest.raises(ValueError, match="oov"):
        kv.to_matrix(vocab, oov="mean")


# ------------------------------------------------------------ gensim interop
def test_gensim_reads_ours_and_we_read_gensims(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    GKV = gensim_models.KeyedVectors
    kv = small_kv()
    for binary in (False, True):
        p = tmp_path / f"ours{int(binary)}.bin"
        kv.save_word2vec_format(p, binary=binary)
        g = GKV.load_word2vec_format(str(p), binary=binary)
        assert list(g.index_to_key) == kv.index_to_key
        np.testing.assert_array_equal(g.vectors, kv.vectors)
        q = tmp_path / f"theirs{int(binary)}.bin"
        g.save_word2vec_format(str(q), binary=binary)
        assert_same(kv, KeyedVectors.load_word2vec_format(q, binary=binary))
    # GloVe (no header) both ways
    kv.save_glove(tmp_path / "g.txt")
    g = GKV.load_word2vec_format(str(tmp_path / "g.txt"), binary=False, no_header=True)
    np.testing.assert_array_equal(g.vectors, kv.vectors)
    g.save_word2vec_format(str(tmp_path / "g2.txt"), write_header=False)
    assert_same(kv, KeyedVectors.load_glove(tmp_path / "g2.txt"))
    # same neighbours as gensim
    ours = kv.most_similar(positive=["w1", "w2"], negative=["w3"], topn=5)
    theirs = g.most_similar(positive=["w1", "w2"], negative=["w3"], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
