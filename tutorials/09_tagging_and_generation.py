# %% [markdown]
# # 09 — Sequence labelling and text generation
#
# So far every model read a whole text and produced *one* answer. Recurrent
# networks can also produce an output **at every step**:
#
# * **Sequence labelling**: one label per word — here part-of-speech tags
#   (NOUN, VERB, DET, ...) on the Brown corpus, with a *bidirectional* LSTM,
#   so the tag of a word can depend on the words before *and* after it.
# * **Language modelling**: at every step, predict the *next* symbol — here
#   characters of Shakespeare. Feeding the model its own predictions back
#   generates new text; temperature and top-k control how adventurous it is.

# %%
import os
from collections import Counter

import numpy as np

import tinynlp as tn
from tinynlp import functional as F

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
tn.random.seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Part 1 — POS tagging with a BiLSTM
#
# The 12 universal tags. Words are lower-cased; ids 0 (padding) and 1
# (unknown word) are reserved.

# %%
(train_words, train_tags), (test_words, test_tags) = tn.datasets.load_brown_pos(lower=True)
n_train_sents = 1200 if QUICK else 20000
n_test_sents = 300 if QUICK else len(test_words)
order = rng.permutation(len(train_words))[:n_train_sents]
train_words = [train_words[i] for i in order]
train_tags = [train_tags[i] for i in order]
test_words, test_tags = test_words[:n_test_sents], test_tags[:n_test_sents]

word_counts = Counter(w for s in train_words for w in s)
vocab = ["<pad>", "<unk>"] + [w for w, c in word_counts.most_common(20000) if c >= 2]
word_id = {w: i for i, w in enumerate(vocab)}
tag_names = sorted({t for s in train_tags for t in s})
tag_id = {t: i for i, t in enumerate(tag_names)}
maxlen = 40 if QUICK else 50
print(f"{len(train_words)} training sentences, vocabulary {len(vocab)}, tags {tag_names}")


def encode(sents, tags):
    X = np.zeros((len(sents), maxlen), np.int64)
    Y = np.zeros((len(sents), maxlen), np.int64)
    for n, (ws, ts) in enumerate(zip(sents, tags)):
        ws, ts = ws[:maxlen], ts[:maxlen]                # long sentences are cut
        X[n, :len(ws)] = [word_id.get(w, 1) for w in ws]
        Y[n, :len(ts)] = [tag_id[t] for t in ts]
    return X, Y


X_train, Y_train = encode(train_words, train_tags)
X_test, Y_test = encode(test_words, test_tags)
test_mask = X_test != 0

# %% [markdown]
# ### The baseline: each word's most frequent tag
#
# Count, for each training word, how often it carries each tag; tag every
# test word with its most frequent one (unknown words get the most frequent
# tag overall, NOUN). This is a strong baseline — most English words have one
# dominant tag.

# %%
by_word = {}
for ws, ts in zip(train_words, train_tags):
    for w, t in zip(ws, ts):
        by_word.setdefault(w, Counter())[t] += 1
overall = Counter(t for ts in train_tags for t in ts).most_common(1)[0][0]
correct = total = 0
for ws, ts in zip(test_words, test_tags):
    for w, t in zip(ws[:maxlen], ts[:maxlen]):
        guess = by_word[w].most_common(1)[0][0] if w in by_word else overall
        correct += guess == t
        total += 1
baseline_acc = correct / total
print(f"most-frequent-tag baseline: token accuracy {baseline_acc:.3f} on {total} test tokens")

# %% [markdown]
# ### The BiLSTM tagger
#
# `Embedding(mask_zero=True)` marks padding so the LSTMs skip it and the
# loss ignores it. `Bidirectional(LSTM(return_sequences=True))` runs one LSTM
# left-to-right and one right-to-left and concatenates their states at every
# word; a `Dense` softmax turns each position's state into tag probabilities.

# %%
tagger = tn.Sequential([
    tn.layers.Embedding(len(vocab), 64, mask_zero=True),
    tn.layers.Bidirectional(tn.layers.LSTM(32 if QUICK else 64, return_sequences=True)),
    tn.layers.Dense(len(tag_names), activation="softmax"),
])
tagger.compile(optimizer=tn.optimizers.Adam(0.01 if QUICK else 0.003),
               loss="sparse_categorical_crossentropy")
history = tagger.fit(X_train, Y_train, epochs=2 if QUICK else 3, batch_size=16 if QUICK else 32,
                     verbose=0)
print("training loss per epoch:", [round(v, 4) for v in history.history["loss"]])

pred = tagger.predict(X_test, batch_size=128).argmax(axis=-1)
tagger_acc = float((pred == Y_test)[test_mask].mean())
print(f"BiLSTM tagger: token accuracy {tagger_acc:.3f}   (most-frequent-tag baseline "
      f"{baseline_acc:.3f})")
if not QUICK:
    assert tagger_acc > baseline_acc

# %%
n = int(np.argmax([len(s) for s in test_words[:50]]))
print(" ".join(f"{w}/{tag_names[p]}" for w, p in zip(test_words[n][:20], pred[n])))
unk_acc = float((pred == Y_test)[X_test == 1].mean())
print(f"accuracy on words never seen in training: {unk_acc:.3f} "
      f"({int(np.sum(X_test == 1))} tokens) — the baseline can only say {overall} there")

# %% [markdown]
# ## Part 2 — a character-level language model on Shakespeare
#
# Cut the text into windows of `T + 1` characters; the input is the first T,
# the target the last T (the same window shifted by one). At every position
# the model outputs a distribution over the next character, trained with
# cross-entropy. Its **perplexity**, `exp(mean negative log-likelihood)`, is
# "how many characters it is choosing between" on average.

# %%
train_text, test_text = tn.datasets.load_shakespeare()
train_text = train_text[:80_000] if QUICK else train_text[:800_000]
test_text = test_text[:20_000] if QUICK else test_text[:200_000]
chars = sorted(set(train_text))
char_id = {c: i for i, c in enumerate(chars)}
V = len(chars)
T = 48 if QUICK else 64


def windows(text):
    ids = np.array([char_id.get(c, char_id[" "]) for c in text], np.int64)
    n = (len(ids) - 1) // T
    return ids[:n * T].reshape(n, T), ids[1:n * T + 1].reshape(n, T)


Xc_train, Yc_train = windows(train_text)
Xc_test, Yc_test = windows(test_text)
print(f"{V} distinct characters; {len(Xc_train)} training windows of {T}")

# baseline: a unigram model (character frequencies), perplexity on the test text
freq = np.bincount(Xc_train.ravel(), minlength=V) + 1.0
logp = np.log(freq / freq.sum())
unigram_ppl = float(np.exp(-logp[Yc_test].mean()))
print(f"unigram (character frequency) perplexity: {unigram_ppl:.2f}")

# %%
units = 96 if QUICK else 256
lm = tn.Sequential([
    tn.layers.Embedding(V, 32),
    tn.layers.LSTM(units, return_sequences=True),
    tn.layers.Dense(V),                                   # logits
])
lm.compile(optimizer=tn.optimizers.Adam(0.01 if QUICK else 0.003),
           loss=tn.losses.SparseCategoricalCrossentropy(from_logits=True))
history = lm.fit(Xc_train, Yc_train, epochs=2 if QUICK else 3, batch_size=32 if QUICK else 64,
                 verbose=0)
test_nll = lm.evaluate(Xc_test, Yc_test, batch_size=128, verbose=0)
lm_ppl = float(np.exp(test_nll))
print(f"LSTM language model: test perplexity {lm_ppl:.2f}  (unigram {unigram_ppl:.2f})")
assert lm_ppl < unigram_ppl

# %% [markdown]
# ### Generating, one character at a time
#
# To generate we run the LSTM **step by step**, carrying `(h, c)`, and feed
# each sampled character back in. We use the trained weights directly with
# `F.lstm` on one step, so every line is visible:
#
# * `logits / temperature`: a temperature below 1 sharpens the
#   distribution (safer, more repetitive), above 1 flattens it (more
#   surprising, more errors);
# * **top-k**: keep only the k most likely characters, renormalise, sample.

# %%
emb_table = lm.layers[0].get_weights()[0]
W_lstm, U_lstm, b_lstm = lm.layers[1].get_weights()
W_out, b_out = lm.layers[2].get_weights()
sample_rng = np.random.default_rng(1)


def generate(prompt, n_chars=200, temperature=1.0, top_k=None):
    h = c = tn.tensor(np.zeros((1, units), np.float32))
    out = list(prompt)
    with tn.no_grad():
        for ch in prompt:                                 # read the prompt
            x = tn.tensor(emb_table[[char_id[ch]]][None])  # (1, 1, 32)
            _, h, c = F.lstm(x, h, c, W_lstm, U_lstm, b_lstm)
        for _ in range(n_chars):
            logits = (h.data @ W_out + b_out)[0].astype(np.float64) / temperature
            if top_k is not None:
                cutoff = np.sort(logits)[-top_k]
                logits = np.where(logits >= cutoff, logits, -np.inf)
            p = np.exp(logits - logits.max())
            p /= p.sum()
            nxt = int(sample_rng.choice(V, p=p))
            out.append(chars[nxt])
            x = tn.tensor(emb_table[[nxt]][None])
            _, h, c = F.lstm(x, h, c, W_lstm, U_lstm, b_lstm)
    return "".join(out)


# the step-by-step model must agree with the whole-sequence model
probe = Xc_test[:1, :20]
full_logits = lm.predict(probe)[0, -1]
h = c = tn.tensor(np.zeros((1, units), np.float32))
_, h, c = F.lstm(tn.tensor(emb_table[probe]), h, c, W_lstm, U_lstm, b_lstm)
assert np.allclose(h.data @ W_out + b_out, full_logits, atol=1e-4)

for temperature, top_k in [(0.5, None), (1.0, None), (1.0, 5)]:
    print(f"--- temperature {temperature}, top-k {top_k} ---")
    print(generate("ROMEO:\n", n_chars=100 if QUICK else 300, temperature=temperature,
                   top_k=top_k))

# %% [markdown]
# Low temperature gives common words and repeated phrases; temperature 1
# samples the model's own distribution, odd words included; top-k cuts off
# the long tail of unlikely characters that produces most misspellings.
# This model saw only part of the 4.5 M training characters for a few
# epochs; give it more text, more units and more epochs and watch the
# perplexity fall and the samples improve. Next: translating whole sentences.
