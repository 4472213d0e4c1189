"""BatchLoader, length bucketing and padding fractions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.data import BatchLoader, batch_indices, bucketing_report, padding_fraction


def make_seqs(n=103, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 60, size=n)
    return [rng.integers(1, 500, size=k).tolist() for k in lengths]


def test_batches_are_padded_masked_and_cover_every_example():
    seqs = make_seqs()
    labels = np.arange(len(seqs)) % 3
    loader = BatchLoader(seqs, labels, batch_size=16, random_state=0)
    assert len(loader) == 7
    seen = []
    for ids, mask, lengths, y, index in loader:
        assert ids.dtype == np.int64 and mask.dtype == bool and lengths.dtype == np.int64
        assert ids.shape == mask.shape and ids.shape[1] == lengths.max()
        np.testing.assert_array_equal(mask.sum(1), lengths)
        assert (ids[~mask] == 0).all()
        for row, i in enumerate(index):
            np.testing.assert_array_equal(ids[row, : lengths[row]], seqs[i])
        np.testing.assert_array_equal(y, labels[index])
        seen.extend(index.tolist())
    assert sorted(seen) == list(range(len(seqs)))


def test_shuffling_is_seeded_and_changes_between_epochs():
    seqs = make_seqs(50)
    first = [b.index.tolist() for b in BatchLoader(seqs, batch_size=8, random_state=1)]
    again = [b.index.tolist() for b in BatchLoader(seqs, batch_size=8, random_state=1)]
    assert first == again
    loader = BatchLoader(seqs, batch_size=8, random_state=1)
    e1 = [b.index.tolist() for b in loader]
    e2 = [b.index.tolist() for b in loader]
    assert e1 != e2
    ordered = [b.index.tolist() for b in BatchLoader(seqs, batch_size=8, shuffle=False)]
    assert sum(ordered, []) == list(range(50))


def test_per_token_labels_padded():
    seqs = [[5, 6, 7], [8]]
    tags = [[1, 2, 3], [4]]
    (batch,) = list(BatchLoader(seqs, tags, batch_size=2, shuffle=False, label_pad_value=-1))
    np.testing.assert_array_equal(batch.ids, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(batch.labels, [[1, 2, 3], [4, -1, -1]])


def test_maxlen_drop_last_and_pad_value():
    seqs = [[1, 2, 3, 4, 5], [6, 7], [8]]
    batches = list(BatchLoader(seqs, batch_size=2, shuffle=False, maxlen=3, drop_last=True,
                               pad_value=9))
    assert len(batches) == 1
    np.testing.assert_array_equal(batches[0].ids, [[1, 2, 3], [6, 7, 9]])


def test_bucketing_cuts_padding():
    seqs = make_seqs(2000, seed=3)
    report = bucketing_report(seqs, batch_size=32, bucket_size=20)
    assert report["without"] > 0.3
    assert report["with"] < 0.1 and report["with"] < report["without"] / 4
    loader = BatchLoader(seqs, batch_size=32, bucket_size=20, random_state=0)
    measured_cells = sum(b.ids.size for b in loader)
    real = sum(len(s) for s in seqs)
    assert 1 - real / measured_cells < 0.1
    assert loader.padding_fraction() == pytest.approx(report["with"])


def test_bucketed_epoch_still_covers_every_example_once():
    seqs = make_seqs(205)
    idx = batch_indices([len(s) for s in seqs], 16, shuffle=True, bucket_size=4, rng=0)
    flat = np.concatenate(idx)
    assert sorted(flat.tolist()) == list(range(205))
    for b in idx:  # sorted buckets: batches hold similar lengths
        assert len(b) <= 16


@given(st.lists(st.integers(0, 40), min_size=1, max_size=200), st.integers(1, 16),
       st.one_of(st.none(), st.integers(1, 8)))
def test_padding_fraction_matches_definition(lengths, batch_size, bucket_size):
    lengths = np.array(lengths)
    frac = padding_fraction(lengths, batch_size, bucket_size, random_state=0)
    batches = batch_indices(lengths, batch_size, True, bucket_size, rng=0)
    cells = sum(len(b) * lengths[b].max() for b in batches)
    expected = 0.0 if cells == 0 else 1 - lengths.sum() / cells
    assert frac == pytest.approx(expected)
    assert 0.0 <= frac < 1.0


def test_batch_loader_errors():
    with pytest.raises(ValueError, match="empty"):
        BatchLoader([])
    with pytest.raises(ValueError, match="batch_size"):
        BatchLoader([[1]], batch_size=0)
    with pytest.raises(ValueError, match="maxlen"):
        BatchLoader([[1]], maxlen=0)
    with pytest.raises(ValueError, match="bucket_size"):
        BatchLoader([[1]], bucket_size=-1)
    with pytest.raises(TypeError, match=r"sequences\[1\]: expected a sequence of token ids, "
                                        r"got a str"):
        BatchLoader([[1], "raw text"])
    with pytest.raises(TypeError, match=r"sequences\[0\]"):
        BatchLoader([[1.5, 2.0]])
    with pytest.raises(ValueError, match="sequences and labels: expected the same number"):
        BatchLoader([[1], [2]], labels=[0])
    with pytest.raises(ValueError, match=r"labels\[0\]: expected one label per token"):
        BatchLoader([[1, 2]], labels=[[0]])
