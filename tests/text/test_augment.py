"""EDA operations, the EDA composer and augment_minority."""

from collections import Counter

import numpy as np
import pytest

from tinynlp.text import (
    EDA,
    augment_minority,
    random_deletion,
    random_insertion,
    random_swap,
    synonym_replacement,
)

SENT = "the quick brown fox jumps over the lazy dog".split()
SYN = {"quick": ["fast", "rapid"], "fox": ["wolf"], "lazy": ["idle"], "dog": ["hound"],
       "the": ["thee"]}


class FakeKeyedVectors:
    """The two methods EDA needs from an embedding model."""

    def __init__(self, neighbours):
        self.neighbours = neighbours
        self.calls = []

    def __contains__(self, word):
        return word in self.neighbours

    def most_similar(self, word, topn=10):
        self.calls.append((word, topn))
        return [(w, 0.9 - 0.1 * i) for i, w in enumerate(self.neighbours[word][:topn])]


def test_random_swap_keeps_the_multiset():
    out = random_swap(SENT, 3, random_state=0)
    assert Counter(out) == Counter(SENT) and out != SENT
    assert random_swap(["one"], 5, random_state=0) == ["one"]


def test_random_deletion():
    assert random_deletion(SENT, 0.0, random_state=0) == SENT
    one = random_deletion(SENT, 1.0, random_state=0)
    assert len(one) == 1 and one[0] in SENT
    out = random_deletion(SENT, 0.5, random_state=1)
    it = iter(SENT)
    assert all(t in it for t in out)  # a subsequence: order kept
    assert 1 <= len(out) < len(SENT)
    with pytest.raises(ValueError, match="p: expected a probability"):
        random_deletion(SENT, 1.5)


def test_synonym_replacement_uses_dict_and_skips_stopwords():
    out = synonym_replacement(SENT, 2, SYN, random_state=0)
    changed = [(a, b) for a, b in zip(SENT, out) if a != b]
    assert len({a for a, _ in changed}) == 2
    for a, b in changed:
        assert a != "the" and b in SYN[a]
    # replacing a word replaces all of its occurrences
    out = synonym_replacement(["dog", "and", "dog"], 1, SYN, random_state=0)
    assert out == ["hound", "and", "hound"]


def test_synonym_replacement_with_embedding_model():
    kv = FakeKeyedVectors({"quick": ["fast", "speedy"], "fox": ["wolf", "vixen"]})
    out = synonym_replacement(SENT, 5, kv, random_state=0)
    assert out[1] in ("fast", "speedy") and out[3] in ("wolf", "vixen")
    assert all(topn == 5 for _, topn in kv.calls)


def test_synonym_replacement_with_gensim_keyed_vectors():
    gensim_models = pytest.importorskip("gensim.models")
    kv = gensim_models.KeyedVectors(vector_size=3)
    kv.add_vectors(["good", "great", "fine", "bad"],
                   np.array([[1, 0, 0], [0.95, 0.05, 0], [0.9, 0.1, 0], [-1, 0, 0]],
                            dtype=np.float32))
    out = synonym_replacement(["good", "movie"], 1, kv, random_state=0)
    assert out[0] in ("great", "fine", "bad") and out[1] == "movie"
    eda = EDA(alpha_sr=0.5, alpha_ri=0, alpha_rs=0, p_rd=0, num_aug=2, synonyms=kv,
              random_state=0)
    assert all(a.split()[0] != "good" for a in eda.augment("good movie"))


def test_random_insertion_adds_synonyms():
    out = random_insertion(SENT, 3, SYN, random_state=0)
    assert len(out) == len(SENT) + 3
    extra = Counter(out) - Counter(SENT)
    assert sum(extra.values()) == 3
    assert set(extra) <= {s for v in SYN.values() for s in v}


def test_eda_is_seeded_and_counts():
    a = EDA(synonyms=SYN, num_aug=6, random_state=7).augment(" ".join(SENT))
    b = EDA(synonyms=SYN, num_aug=6, random_state=7).augment(" ".join(SENT))
    c = EDA(synonyms=SYN, num_aug=6, random_state=8).augment(" ".join(SENT))
    assert a == b and a != c
    assert len(a) == 6 and all(isinstance(s, str) for s in a)
    assert any(s != " ".join(SENT) for s in a)


def test_eda_on_token_lists_and_transform():
    eda = EDA(alpha_sr=0, alpha_ri=0, alpha_rs=0.2, p_rd=0, num_aug=3, random_state=0)
    outs = eda.augment(SENT)
    assert len(outs) == 3 and all(Counter(o) == Counter(SENT) for o in outs)  # swaps only
    flat = eda.transform(["a b c d", "e f g h"])
    assert len(flat) == 6


def test_eda_uses_global_rng_when_unseeded():
    import tinynlp as tn
    tn.random.seed(3)
    a = EDA(alpha_sr=0, alpha_ri=0, num_aug=4).augment(SENT)
    tn.random.seed(3)
    b = EDA(alpha_sr=0, alpha_ri=0, num_aug=4).augment(SENT)
    assert a == b


def test_eda_errors():
    with pytest.raises(ValueError, match="synonyms"):
        EDA(alpha_sr=0.1)
    with pytest.raises(ValueError, match="alpha_rs"):
        EDA(alpha_sr=0, alpha_ri=0, alpha_rs=2.0)
    with pytest.raises(ValueError, match="num_aug"):
        EDA(alpha_sr=0, alpha_ri=0, num_aug=0)
    with pytest.raises(TypeError, match="synonyms"):
        EDA(synonyms=42)
    with pytest.raises(TypeError, match="text"):
        EDA(alpha_sr=0, alpha_ri=0).augment(123)


def test_augment_minority_balances_classes():
    texts = [f"great movie number {i}" for i in range(20)] + \
            [f"awful film take {i}" for i in range(5)]
    labels = [1] * 20 + [0] * 5
    out_x, out_y = augment_minority(texts, labels, random_state=0)
    assert out_x[:25] == texts and out_y[:25].tolist() == labels
    assert Counter(out_y.tolist()) == {1: 20, 0: 20}
    new = out_x[25:]
    assert len(new) == 15 and all("awful" in t or "film" in t or "take" in t for t in new)
    half_x, half_y = augment_minority(texts, labels, target_ratio=0.5, random_state=0)
    assert Counter(half_y.tolist()) == {1: 20, 0: 10}
    n_x, n_y = augment_minority(texts, labels, n={0: 3}, random_state=0)
    assert Counter(n_y.tolist()) == {1: 20, 0: 8}


def test_augment_minority_errors():
    with pytest.raises(ValueError, match="texts and labels"):
        augment_minority(["a", "b"], [0])
    with pytest.raises(ValueError, match="empty"):
        augment_minority([], [])
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        augment_minority(["a", 5], [0, 1])
    with pytest.raises(ValueError, match="n: classes"):
        augment_minority(["a", "b"], [0, 1], n={7: 2})
