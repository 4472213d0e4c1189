"""The pretraining corpus: size, sources, fixed validation split, no test text inside."""

import json
import lzma
import random
import zlib
from collections import defaultdict

import pytest

import tinynlp as tn
from tinynlp.data import corpus as C
from tinynlp.data import datasets as ds
from tinynlp.data.corpus import (
    PRETRAIN_SOURCES,
    detokenize,
    load_pretraining_corpus,
    ngram_overlap,
    ngrams,
    task_test_texts,
    word_count,
)

# the source whose *training* split each task's test split belongs to
OWN_SOURCE = {"rotten_tomatoes": "rotten_tomatoes", "spam_assassin": "spam_assassin",
              "brown": "brown", "shakespeare": "shakespeare", "translation_en": "kjv"}


@pytest.fixture(scope="module")
def corpus():
    return (load_pretraining_corpus("train", return_sources=True),
            load_pretraining_corpus("validation", return_sources=True))


def joined(docs, source):
    return "\n".join(t for s, t in docs if s == source)


def test_wired_into_tn_datasets(corpus):
    assert tn.datasets.load_pretraining_corpus("validation") == [t for _, t in corpus[1]]


def test_at_least_five_million_words_from_every_source(corpus):
    train, val = corpus
    n_train = word_count(t for _, t in train)
    n_val = word_count(t for _, t in val)
    assert n_train >= 5_000_000
    assert 0.01 < n_val / (n_train + n_val) < 0.04
    assert {s for s, _ in train} == {s for s, _ in val} == set(PRETRAIN_SOURCES)
    # documents come grouped by source, in PRETRAIN_SOURCES order
    order = [s for k, (s, _) in enumerate(train) if k == 0 or train[k - 1][0] != s]
    assert order == list(PRETRAIN_SOURCES)


def test_validation_rule_and_disjoint_splits(corpus):
    train, val = corpus
    assert not {t for _, t in train} & {t for _, t in val}
    # snippets are keyed by their text: the rule can be checked from outside
    rule = [t for s, t in val if s == "rotten_tomatoes"]
    (x_tr, _), _ = ds.load_rotten_tomatoes()
    want = [t for t in dict.fromkeys(x_tr)
            if zlib.crc32(f"rotten_tomatoes:{t}".encode()) % 100 < C.VALIDATION_PERCENT]
    assert rule == want


def test_fresh_lists_subsets_and_determinism(corpus):
    a = load_pretraining_corpus("validation")
    a.append("extra")
    assert "extra" not in load_pretraining_corpus("validation")
    devil = load_pretraining_corpus("train", sources="devils_dictionary")
    assert devil == [t for s, t in corpus[0] if s == "devils_dictionary"]
    assert any(t.startswith("CYNIC, n.") for t in devil)
    two = load_pretraining_corpus("train", sources=["devils_dictionary", "rotten_tomatoes"])
    assert two[:len(devil)] == devil
    C._CACHE.clear()                     # rebuilt from the files: same documents
    assert load_pretraining_corpus("train", sources=["devils_dictionary", "rotten_tomatoes"]) \
        == two


def test_argument_errors():
    with pytest.raises(ValueError, match="split"):
        load_pretraining_corpus("test")
    with pytest.raises(ValueError, match="sources"):
        load_pretraining_corpus(sources=["brown", "wikipedia"])
    with pytest.raises(ValueError, match="sources"):
        load_pretraining_corpus(sources=[])
    with pytest.raises(ValueError, match="names"):
        task_test_texts(["no_such_task"])


# ------------------------------------------------------------------ exclusion
def test_no_document_is_a_test_text(corpus):
    docs = {t for part in corpus for _, t in part}
    tests = task_test_texts()
    assert set(OWN_SOURCE) <= set(tests)
    for task, texts in tests.items():
        assert not docs & set(texts), task
    # snippets and e-mails come from the training split only
    (rt_train, _), _ = ds.load_rotten_tomatoes()
    (sp_train, _), _ = ds.load_spam_assassin()
    for source, train in (("rotten_tomatoes", rt_train), ("spam_assassin", sp_train)):
        assert {t for part in corpus for s, t in part if s == source} <= set(train)


@pytest.mark.slow
def test_held_out_passages_are_absent(corpus):
    """A sample of test passages that do not also occur in training text: none is in
    the corpus (Brown sentences, Shakespeare lines, King James and WEB verses)."""
    docs = corpus[0] + corpus[1]
    rng = random.Random(0)

    def check(source, test_items, train_items, min_len):
        text = joined(docs, source)
        candidates = sorted(set(test_items) - set(train_items))
        candidates = [c for c in candidates if len(c) >= min_len]
        assert len(candidates) > 100, source
        for item in rng.sample(candidates, 80):
            assert item not in text, (source, item)

    train_s, test_s = ds.load_brown_text(lower=False)
    check("brown", [detokenize(s) for s in test_s], [detokenize(s) for s in train_s], 60)
    train, test = ds.load_shakespeare()
    check("shakespeare", [ln.strip() for ln in test.split("\n")],
          [ln.strip() for ln in train.split("\n")], 35)
    (_, en_tr), (_, en_te) = ds.load_translation_pairs(max_tokens=None)
    check("kjv", en_te, en_tr, 40)
    with lzma.open(ds.data_path("web_bible.jsonl.xz"), "rt", encoding="utf-8") as f:
        web = [json.loads(line) for line in f]
    check("web", [r["text"] for r in web if r["split"] == "test"],
          [r["text"] for r in web if r["split"] == "train"], 40)


@pytest.mark.slow
def test_ngram_check_on_a_sample(corpus):
    """Word 8-grams of every test split found in (a sixth of) the corpus come from the
    task's own training text; other sources share at most 0.5 % of them (quotations)."""
    sample = (corpus[0] + corpus[1])[::6]     # every 6th document
    tests = task_test_texts()
    owner = defaultdict(set)
    for task, texts in tests.items():
        for t in texts:
            for g in ngrams(t, 8):
                owner[g].add(task)
    total = defaultdict(int)
    for g, tasks in owner.items():
        for task in tasks:
            total[task] += 1
    foreign = defaultdict(set)
    for source, text in sample:
        for g in ngrams(text, 8):
            for task in owner.get(g, ()):
                if OWN_SOURCE.get(task) != source:
                    foreign[task].add(g)
    for task in tests:
        assert len(foreign[task]) <= 0.005 * total[task], (task, len(foreign[task]))


def test_ngram_overlap_counts():
    corpus = ["A b, C d e f g h i!"]
    tests = ["x a b c d e f g h", "q w e r t y u i o", "short text"]
    r = ngram_overlap(iter(corpus), tests, n=8)
    assert r == {"test_ngrams": 4, "shared": 1, "fraction": 0.25, "test_texts_hit": 1,
                 "test_texts": 3}
    assert ngrams("It's a B-side", 2) == [("it", "s"), ("s", "a"), ("a", "b"), ("b", "side")]
    with pytest.raises(ValueError, match="n:"):
        ngram_overlap([], [], n=0)


def test_registered_test_split_is_excluded(monkeypatch):
    first = load_pretraining_corpus("train", sources=["rotten_tomatoes"])[0]
    monkeypatch.setitem(C._TEST_SPLITS, "dialogue", lambda: [first, "a later task's reply"])
    C._CACHE.clear()
    try:
        assert "dialogue" in task_test_texts()
        assert first not in load_pretraining_corpus("train", sources=["rotten_tomatoes"])
    finally:
        monkeypatch.undo()
        C._CACHE.clear()
    assert first in load_pretraining_corpus("train", sources=["rotten_tomatoes"])
    with pytest.raises(TypeError, match="loader"):
        C.register_test_split("x", ["not callable"])


def test_detokenize_and_word_count():
    assert detokenize(["He", "said", "``", "no", "''", "(", "twice", ")", "to", "Jr.", "."]) \
        == 'He said "no" (twice) to Jr.'
    assert detokenize(["a", ",", "b", ";", "c", "?"]) == "a, b; c?"
    assert word_count(["a b  c\n", "", " d "]) == 4


def test_docstring_examples():
    import doctest

    result = doctest.testmod(C)
    assert result.attempted > 0 and result.failed == 0
