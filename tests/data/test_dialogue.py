"""The bundled dialogue corpus (chatterbot-corpus, English): counts, pairs, the fixed split,
and its registration with the pretraining corpus' exclusion."""

import hashlib
import re
import zlib
from pathlib import Path

import tinynlp as tn
from tinynlp.data import corpus

REPO = Path(__file__).resolve().parents[2]


def test_counts_and_pairs():
    (p_tr, r_tr), (p_te, r_te) = tn.datasets.load_dialogue()
    assert (len(p_tr), len(p_te)) == (1045, 205) and len(r_tr) == 1045 and len(r_te) == 205
    train, test = tn.datasets.load_dialogue(as_pairs=False)
    assert (len(train), len(test)) == (799, 100)
    assert all(len(c) >= 2 and all(isinstance(t, str) and t.strip() for t in c)
               for c in train + test)
    # pairs are each line with the next one of its conversation, in order
    expect = [(c[i], c[i + 1]) for c in test for i in range(len(c) - 1)]
    assert list(zip(p_te, r_te)) == expect
    assert ("Hello", "Hi") in set(zip(p_tr, r_tr)) | set(zip(p_te, r_te))


def test_split_rule_and_no_conversation_on_both_sides():
    train, test = tn.datasets.load_dialogue(as_pairs=False)

    def is_test(c):
        return zlib.crc32(c[0].strip().lower().encode("utf-8")) % 100 < 10

    assert all(is_test(c) for c in test) and not any(is_test(c) for c in train)
    assert not {tuple(c) for c in train} & {tuple(c) for c in test}
    assert len({tuple(c) for c in train + test}) == len(train) + len(test)   # deduplicated


def test_file_matches_data_md():
    digest = hashlib.sha256(tn.datasets.data_path("dialogue.jsonl.gz").read_bytes()).hexdigest()
    section = (REPO / "DATA.md").read_text(encoding="utf-8").split("## Dialogue")[1]
    assert re.search(r"sha256\*\*: `([0-9a-f]{64})`", section).group(1) == digest
    assert (REPO / "tinynlp/data/licenses/chatterbot-corpus-LICENSE.txt").read_text(
        encoding="utf-8").startswith("Copyright (c) 2017, Gunther Cox")


def test_test_lines_are_registered_with_the_pretraining_exclusion():
    _, test = tn.datasets.load_dialogue(as_pairs=False)
    registered = corpus.task_test_texts(["dialogue"])["dialogue"]
    assert registered == [line for c in test for line in c]
