"""The bundled data sets: sizes, labels, fixed and disjoint splits, copies."""

import re
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.data import datasets as ds


def crc_percent(key):
    return zlib.crc32(key.encode("utf-8")) % 100


def test_datasets_is_the_module_wired_into_tinynlp():
    assert tn.datasets is ds
    assert tn.data.datasets is ds


def test_bundled_files_are_compressed_and_small():
    files = sorted(Path(ds.FILES).iterdir())
    names = {f.name for f in files}
    assert {"rotten_tomatoes.jsonl.gz", "spam_assassin.jsonl.gz", "brown.jsonl.gz",
            "shakespeare.jsonl.gz", "bible_es_en.jsonl.gz"} <= names
    assert all(f.suffix in (".gz", ".bz2", ".xz") for f in files)
    assert sum(f.stat().st_size for f in files) < 20 * 2**20


def test_rotten_tomatoes():
    (x_tr, y_tr), (x_te, y_te) = ds.load_rotten_tomatoes()
    assert (len(x_tr), len(x_te)) == (10253, 2499)
    assert y_tr.dtype == np.int64 and set(np.unique(y_tr)) == {0, 1}
    assert (int(y_tr.sum()), int(y_te.sum())) == (5911, 1457)  # fresh = 1
    assert all(isinstance(t, str) and t for t in x_tr[:100])
    assert not set(x_tr) & set(x_te)
    assert all(crc_percent(t) < 20 for t in x_te)
    assert all(crc_percent(t) >= 20 for t in x_tr[:500])
    assert ds.CLASS_NAMES["rotten_tomatoes"] == ("rotten", "fresh")


def test_loaders_return_fresh_copies():
    (x_tr, y_tr), _ = ds.load_rotten_tomatoes()
    first = x_tr[0]
    x_tr[0] = "changed"
    y_tr[:] = 7
    (x_tr2, y_tr2), _ = ds.load_rotten_tomatoes()
    assert x_tr2[0] == first and set(np.unique(y_tr2)) == {0, 1}


def test_spam_assassin():
    (x_tr, y_tr), (x_te, y_te) = ds.load_spam_assassin()
    assert (len(x_tr), len(x_te)) == (4836, 1210)
    assert (int(y_tr.sum()), int(y_te.sum())) == (1539, 357)  # spam = 1
    assert len(x_tr) + len(x_te) == 6046
    assert max(len(t) for t in x_tr) <= 2000 + 2 + 1000  # body cut at 2,000 chars + subject
    assert not set(x_tr) & set(x_te)
    (short, _), _ = ds.load_spam_assassin(include_subject=False, max_chars=100)
    assert max(map(len, short)) <= 100
    assert ds.CLASS_NAMES["spam_assassin"] == ("ham", "spam")
    with pytest.raises(ValueError, match="max_chars"):
        ds.load_spam_assassin(max_chars=0)


def test_brown_pos():
    (x_tr, y_tr), (x_te, y_te) = ds.load_brown_pos()
    assert (len(x_tr), len(x_te)) == (46682, 10658)
    assert sum(map(len, x_tr)) + sum(map(len, x_te)) == 1161192
    assert all(len(w) == len(t) for w, t in zip(x_tr, y_tr))
    tags = Counter(t for s in y_tr + y_te for t in s)
    assert set(tags) == set(ds.UNIVERSAL_TAGS)
    assert x_tr[0][:4] == ["The", "Fulton", "County", "Grand"]
    assert y_tr[0][:4] == ["DET", "NOUN", "NOUN", "ADJ"]
    (_, raw), _ = ds.load_brown_pos(tagset="brown")
    assert raw[0][:2] == ["AT", "NP-TL"]
    (low, _), _ = ds.load_brown_pos(lower=True)
    assert low[0][0] == "the"
    with pytest.raises(ValueError, match="tagset"):
        ds.load_brown_pos(tagset="penn")


def test_brown_split_is_by_document_every_fifth_in_each_genre():
    docs = ds._brown_parsed()
    by_genre = {}
    for doc, cat, split, _ in docs:
        by_genre.setdefault(cat, []).append((doc, split))
    assert set(by_genre) == set(ds.BROWN_GENRES)
    for cat, items in by_genre.items():
        items.sort()
        assert [s for _, s in items] == ["test" if k % 5 == 4 else "train"
                                         for k in range(len(items))]
        assert any(s == "test" for _, s in items)


def test_brown_universal_mapping():
    f = ds.brown_to_universal
    assert f("np-tl") == "NOUN" and f("NN$") == "NOUN" and f("bedz*") == "VERB"
    assert f("fw-nn") == "X" and f("fw-in+at-tl") == "X"
    assert f("ppss+md") == "PRT" and f("pp$") == "DET" and f("ppo") == "PRON"
    assert f("cs") == "ADP" and f("cc") == "CONJ" and f("od") == "ADJ" and f("cd-hl") == "NUM"
    assert f("*") == "ADV" and f(",") == "." and f("''") == "."
    assert f("to") == "PRT" and f("md*") == "VERB" and f("jjt") == "ADJ"


def test_brown_news_counts_match_nltk_universal():
    """Universal-tag counts of the news genre, as the NLTK book prints for
    ``brown.tagged_words(categories='news', tagset='universal')``."""
    nltk_counts = {"NOUN": 30640, "VERB": 14399, "ADP": 12355, ".": 11928, "DET": 11389,
                   "ADJ": 6706, "ADV": 3349, "CONJ": 2717, "PRON": 2535, "PRT": 2264,
                   "NUM": 2166, "X": 92}
    counts = Counter()
    for _doc, cat, _split, sents in ds._brown_parsed():
        if cat == "news":
            for _words, tags in sents:
                counts.update(ds.brown_to_universal(t) for t in tags)
    assert sum(counts.values()) == 100554
    for tag, n in nltk_counts.items():
        assert abs(counts[tag] - n) <= 14, (tag, counts[tag], n)


def test_brown_genres():
    (x_tr, y_tr), (x_te, y_te) = ds.load_brown_genres()
    assert (len(x_tr), len(x_te)) == (4685, 1073)
    assert set(np.unique(y_tr)) == set(range(15)) == set(np.unique(y_te))
    assert ds.BROWN_GENRES[int(np.argmax(np.bincount(y_tr)))] == "learned"
    assert not set(x_tr) & set(x_te)
    (x5, _), _ = ds.load_brown_genres(sentences_per_chunk=5)
    assert len(x5) > 1.8 * len(x_tr)
    with pytest.raises(ValueError, match="sentences_per_chunk"):
        ds.load_brown_genres(sentences_per_chunk=0)


def test_brown_text():
    train, test = ds.load_brown_text()
    assert (len(train), len(test)) == (46682, 10658)
    assert train[0][0] == "the"


def test_shakespeare():
    train, test = ds.load_shakespeare()
    assert (len(train), len(test)) == (4550578, 503406)
    assert "To be, or not to be" in train
    assert len(ds.SHAKESPEARE_WORKS) == 42
    h_train, h_test = ds.load_shakespeare(works=["hamlet"])
    assert h_train.startswith("HAMLET, PRINCE OF DENMARK")
    assert "the rest is silence" in h_test and "the rest is silence" not in h_train
    assert h_train in train and h_test in test  # same rule for one work or all
    assert 0.08 < len(h_test) / (len(h_train) + len(h_test)) < 0.12
    with pytest.raises(ValueError, match="works: unknown"):
        ds.load_shakespeare(works=["hamlet", "faust"])
    with pytest.raises(ValueError, match="works"):
        ds.load_shakespeare(works=[])
    with pytest.raises(ValueError, match="test_fraction"):
        ds.load_shakespeare(test_fraction=1.0)


def test_translation_pairs():
    (src_tr, tgt_tr), (src_te, tgt_te) = ds.load_translation_pairs()
    assert (len(src_tr), len(src_te)) == (10579, 1156)
    assert len(src_tr) == len(tgt_tr) and len(src_te) == len(tgt_te)
    assert all(len(s.split()) <= 20 and len(t.split()) <= 20 for s, t in zip(src_tr, tgt_tr))
    i = src_tr.index("Y dijo Dios: Sea la luz: y fué la luz.")
    assert tgt_tr[i] == "And God said, Let there be light: and there was light."
    (en, es), _ = ds.load_translation_pairs(direction="en-es")
    assert en == tgt_tr and es == src_tr
    (all_src, _), (all_te, _) = ds.load_translation_pairs(max_tokens=None)
    assert (len(all_src), len(all_te)) == (28006, 3078)
    refs = {r["ref"]: r["split"] for r in ds._rows("bible_es_en.jsonl.gz")}
    assert all((crc_percent(ref) < 10) == (split == "test") for ref, split in refs.items())
    with pytest.raises(ValueError, match="direction"):
        ds.load_translation_pairs(direction="es-fr")


def test_translation_pairs_have_no_glued_words():
    """The Spanish module separates some words only by markup; the derivation script
    must put a space there (but keep enclitic pronouns on their verb)."""
    rows = {r["ref"]: r["es"] for r in ds._rows("bible_es_en.jsonl.gz")}
    assert "hay allí también bdelio y piedra" in rows["Genesis 2:12"]
    assert "sácalo de este lugar" in rows["Genesis 19:12"]        # enclitic kept
    assert "el ángel de Jehová los acose" in rows["Psalms 35:5"]   # not an enclitic
    assert "Díganlo los redimidos" in rows["Psalms 107:2"]
    # word-less Strong's numbers used to leave "vida , toda"
    spaced = [ref for ref, es in rows.items() if re.search(r"\s[,;:.?!]", es)]
    assert spaced == []
    with pytest.raises(ValueError, match="max_tokens"):
        ds.load_translation_pairs(max_tokens=0)


def test_load_glove_delegates_to_embeddings(monkeypatch):
    import tinynlp.embeddings as emb
    monkeypatch.setattr(emb, "load_glove_6b_50d", lambda *a, **k: ("kv", a, k), raising=False)
    assert ds.load_glove_6b_50d(1, limit=5) == ("kv", (1,), {"limit": 5})


def test_loaders_are_deterministic():
    a = ds.load_brown_genres()
    b = ds.load_brown_genres()
    assert a[1][0] == b[1][0]
    np.testing.assert_array_equal(a[0][1], b[0][1])


def test_missing_file_error():
    with pytest.raises(FileNotFoundError, match="tools/"):
        ds.data_path("nope.jsonl.gz")
