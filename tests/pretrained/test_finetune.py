"""The GPT classifier: pooling, gradients, the frozen-then-unfreeze schedule, saving."""

import numpy as np
import pytest

import tinynlp as tn
from tests.helpers import check_grad
from tests.pretrained.tiny import tiny_gpt
from tinynlp.pretrained import (
    PAD_ID,
    GPTClassifier,
    classifier,
    encode_texts,
    fine_tune,
    pad_ids,
    pool_hidden,
    predict_proba,
)


def _toy_texts():
    (x, y), _ = tn.datasets.load_rotten_tomatoes()
    return x[:64], y[:64]


# ------------------------------------------------------------------ inputs
def test_encode_texts_truncates_and_ends_with_eos():
    gpt = tiny_gpt(steps=0)
    tok = gpt.tokenizer
    ids = encode_texts(tok, ["a fine film", "x " * 200, "literal <|endoftext|> inside"], maxlen=16)
    assert all(s[-1] == tok.eos_id for s in ids)
    assert len(ids[1]) == 16 and ids[1][:15] == tok.encode("x " * 200)[:15]
    assert tok.eos_id not in ids[2][:-1]          # special strings in a text are plain text
    assert tok.decode(ids[0][:-1]) == "a fine film"
    with pytest.raises(TypeError, match="one str"):
        encode_texts(tok, "a text", 16)
    with pytest.raises(ValueError, match="maxlen"):
        encode_texts(tok, ["a"], 1)


def test_pad_ids_and_bad_padding_are_clear():
    x = pad_ids([[5, 6, 7], [8]])
    assert x.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]]
    clf = classifier(tiny_gpt(steps=0), num_classes=3)
    with pytest.raises(ValueError, match="real token after padding"):
        clf(np.array([[PAD_ID, 4, 5]]))
    with pytest.raises(ValueError, match="no real token"):
        clf(np.array([[4, 5], [PAD_ID, PAD_ID]]))
    with pytest.raises(ValueError, match="pooling"):
        classifier(tiny_gpt(steps=0), pooling="max")
    with pytest.raises(TypeError, match="body must be"):
        GPTClassifier("tinygpt")


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_padding_does_not_change_the_output(pooling):
    """A text alone and the same text padded in a batch with a longer one: same output."""
    clf = classifier(tiny_gpt(steps=0), num_classes=3, pooling=pooling)
    tok = clf.tokenizer
    seqs = encode_texts(tok, ["short one", "a much longer text with many more words in it"], 32)
    alone = clf(pad_ids(seqs[:1])).data
    batched = clf(pad_ids(seqs)).data
    np.testing.assert_allclose(batched[0], alone[0], rtol=1e-5, atol=1e-6)
    assert np.allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def test_pool_hidden_picks_the_last_real_token_and_averages_real_ones():
    h = tn.tensor(np.arange(2 * 3 * 2, dtype=np.float64).reshape(2, 3, 2))
    real = np.array([[True, True, False], [True, True, True]])
    np.testing.assert_array_equal(pool_hidden(h, real, "last").data, [[2, 3], [10, 11]])
    np.testing.assert_allclose(pool_hidden(h, real, "mean").data, [[1, 2], [8, 9]])


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("pooling,classes", [("last", 3), ("mean", 1)])
def test_classifier_gradients_float64(pooling, classes):
    clf = classifier(tiny_gpt(steps=0, dtype="float64", hidden_dim=8), num_classes=classes,
                     pooling=pooling, dropout=0.0)
    ids = pad_ids([[3, 9, 4, 11], [7, 2]])
    clf(ids)
    body = clf.body
    params = [clf.head.kernel, clf.head.bias, body.final_norm.weights[0],
              body.blocks[0].weights[0], body.embedding.token_embedding.embeddings]
    assert all(p.dtype == np.float64 for p in params)
    check_grad(f"pretrained.GPTClassifier({pooling})", lambda *_: clf(ids), params,
               max_elements=64)


# ------------------------------------------------------------------ the schedule
def test_frozen_then_unfrozen_schedule(monkeypatch):
    """Step 1 changes only the head (body frozen, restored to trainable after);
    step 2 changes the body too; early stopping puts back the best epoch."""
    texts, y = _toy_texts()
    clf = classifier(tiny_gpt(), num_classes=1, dropout=0.0)
    seqs = encode_texts(clf.tokenizer, texts, 48)
    clf(pad_ids(seqs[:1]))
    body0 = [w.copy() for w in clf.body.get_weights()]
    head0 = [w.copy() for w in clf.head.get_weights()]
    seen = []
    real_train_head = tn.pretrained.finetune._train_head

    def spy(model, *args):
        seen.append([p.trainable for p in model.body.weights])
        out = real_train_head(model, *args)
        assert all(np.array_equal(a, b) for a, b in zip(body0, model.body.get_weights()))
        assert not all(np.array_equal(a, b) for a, b in zip(head0, model.head.get_weights()))
        return out

    monkeypatch.setattr(tn.pretrained.finetune, "_train_head", spy)
    history = fine_tune(clf, seqs[:48], y[:48], validation_data=(seqs[48:], y[48:]),
                        head_epochs=3, epochs=2, learning_rate=1e-3, batch_size=16)
    assert seen and not any(seen[0])                     # frozen during step 1
    assert all(p.trainable for p in clf.body.weights)    # unfrozen after
    assert len(history["head"]["loss"]) >= 1 and len(history["full"]["val_loss"]) >= 1
    changed = [not np.array_equal(a, b) for a, b in zip(body0, clf.body.get_weights())]
    assert any(changed)                                  # step 2 trains the body


def test_epochs_zero_trains_only_the_head_and_head_epochs_zero_skips_step_one():
    texts, y = _toy_texts()
    clf = classifier(tiny_gpt(), num_classes=2)
    seqs = encode_texts(clf.tokenizer, texts, 48)
    clf(pad_ids(seqs[:1]))
    body0 = [w.copy() for w in clf.body.get_weights()]
    h = fine_tune(clf, seqs, y, head_epochs=2, epochs=0)
    assert h["full"] == {} and len(h["head"]["loss"]) == 2
    assert all(np.array_equal(a, b) for a, b in zip(body0, clf.body.get_weights()))
    h = fine_tune(clf, seqs, y, head_epochs=0, epochs=1)
    assert h["head"] == {} and len(h["full"]["loss"]) == 1


def test_fine_tuning_learns_a_separable_toy_task():
    """Texts with 'good' vs 'bad' words: the fine-tuned classifier gets them right."""
    rng = np.random.default_rng(0)
    good, bad = ["great", "fine", "lovely", "good"], ["awful", "bad", "dull", "poor"]
    texts, y = [], []
    for i in range(160):
        label = i % 2
        words = rng.choice(good if label else bad, size=3)
        texts.append("the film was " + " and ".join(words))
        y.append(label)
    clf = classifier(tiny_gpt(), num_classes=1, pooling="last")
    seqs = encode_texts(clf.tokenizer, texts, 32)
    fine_tune(clf, seqs[:120], y[:120], validation_data=(seqs[120:], y[120:]), head_epochs=5,
              epochs=4, learning_rate=1e-2, head_learning_rate=1e-2, batch_size=16, patience=3)
    p = predict_proba(clf, seqs[120:]).reshape(-1)
    assert np.mean((p >= 0.5) == np.array(y[120:])) >= 0.9


# ------------------------------------------------------------------ saving
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_save_and_load_round_trip(tmp_path, pooling):
    clf = classifier(tiny_gpt(), num_classes=4, pooling=pooling)
    seqs = encode_texts(clf.tokenizer, ["one text", "and another, longer text"], 16)
    clf.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    expect = clf.predict(pad_ids(seqs))
    clf.save(tmp_path / "clf.tnz")
    back = tn.models.load_model(tmp_path / "clf.tnz", restore_rng=False)
    assert isinstance(back, GPTClassifier) and back.pooling == pooling
    assert back.body.get_config() == clf.body.get_config()
    np.testing.assert_allclose(back.predict(pad_ids(seqs)), expect, rtol=1e-6)
