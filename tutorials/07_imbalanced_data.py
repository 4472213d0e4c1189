# %% [markdown]
# # 07 — Imbalanced data
#
# Real classification problems are rarely 50/50: spam, fraud, a rare
# disease, a complaint among thousands of happy reviews. When one class is,
# say, 10 % of the data, a model can reach 90 % accuracy by never predicting
# it — and a network trained on the average loss drifts exactly there,
# because the rare class contributes only 10 % of the gradient.
#
# We build a 10 %-minority version of Rotten Tomatoes (keep every *fresh*
# review, only enough *rotten* ones to make them 10 %), in the training and
# the test set, and compare five ways of training the same small model:
#
# 1. no correction;
# 2. **class weights**: each minority example counts more in the loss;
# 3. **random over-sampling**: *duplicate* randomly chosen minority examples
#    until the classes are balanced (no new information, the same sentences
#    seen more often);
# 4. **random under-sampling**: *drop* randomly chosen majority examples
#    until the classes are balanced (throws data away);
# 5. **EDA augmentation**: add *perturbed* copies of minority sentences
#    (synonym replacement, random insertion, swap, deletion — Wei & Zou 2019).
#
# We judge them by the minority class's **precision** (of the reviews
# flagged rotten, how many are), **recall** (of the rotten reviews, how many
# were found) and **F1** (their harmonic mean) — not by accuracy.

# %%
import os
from pathlib import Path

import numpy as np

import tinynlp as tn

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
# Figures (and any file a tutorial writes) go to one git-ignored folder,
# tutorials/output/ (or $TINYNLP_TUTORIAL_OUT), never the current directory; opened
# as a notebook, the figures also show under their cells.
OUT = Path(os.environ.get("TINYNLP_TUTORIAL_OUT")
           or (Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd())
           / "output")
tn.random.seed(0)
rng = np.random.default_rng(0)
MINORITY = 0                                # "rotten"

# %% [markdown]
# ## A 10 %-minority data set

# %%
(x_train_all, y_train_all), (x_test_all, y_test_all) = tn.datasets.load_rotten_tomatoes()


def make_imbalanced(texts, labels, minority_fraction, n_majority=None):
    maj = np.flatnonzero(labels != MINORITY)
    mino = np.flatnonzero(labels == MINORITY)
    if n_majority is not None:
        maj = rng.choice(maj, n_majority, replace=False)
    n_min = int(round(len(maj) * minority_fraction / (1 - minority_fraction)))
    keep = rng.permutation(np.concatenate([maj, rng.choice(mino, n_min, replace=False)]))
    return [texts[i] for i in keep], labels[keep]


x_train, y_train = make_imbalanced(x_train_all, y_train_all, 0.10,
                                   n_majority=1500 if QUICK else None)
x_test, y_test = make_imbalanced(x_test_all, y_test_all, 0.10, n_majority=600 if QUICK else None)
for name, y in [("train", y_train), ("test", y_test)]:
    print(f"{name}: {len(y)} reviews, {np.sum(y == MINORITY)} rotten "
          f"({np.mean(y == MINORITY):.1%})")

vocab_size, maxlen = 10000, 40
tok = tn.text.Tokenizer(num_words=vocab_size, oov_token="<unk>")
tok.fit_on_texts(x_train)


def encode(texts):
    return tn.text.pad_sequences(tok.texts_to_sequences(texts), maxlen=maxlen)


X_test = encode(x_test)

# %% [markdown]
# ## The model and the scores
#
# A small, fast model: embed the words, average them, a sigmoid unit
# (`p = P(fresh)`). We predict *rotten* when `p < 0.5`.

# %%
EPOCHS = 4 if QUICK else 8


def build():
    model = tn.Sequential([
        tn.layers.Embedding(vocab_size, 32, mask_zero=True),
        tn.layers.GlobalAveragePooling1D(),
        tn.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=tn.optimizers.Adam(0.005), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def scores(model):
    pred = (model.predict(X_test)[:, 0] > 0.5).astype(int)
    return {
        "accuracy": tn.metrics.accuracy(y_test, pred),
        "precision": tn.metrics.precision(y_test, pred, pos_label=MINORITY),
        "recall": tn.metrics.recall(y_test, pred, pos_label=MINORITY),
        "f1": tn.metrics.f1_score(y_test, pred, pos_label=MINORITY),
        "flagged": int(np.sum(pred == MINORITY)),
    }


results = {}
always_majority = np.full_like(y_test, 1 - MINORITY)
print(f"always predict 'fresh': accuracy {tn.metrics.accuracy(y_test, always_majority):.3f}, "
      f"minority recall {tn.metrics.recall(y_test, always_majority, pos_label=MINORITY):.3f}")

# %% [markdown]
# ## 1. No correction

# %%
tn.random.seed(1)
model = build()
model.fit(encode(x_train), y_train, epochs=EPOCHS, batch_size=32, verbose=0)
results["none"] = scores(model)
print(results["none"])

# %% [markdown]
# ## 2. Class weights
#
# `compute_class_weight("balanced")` gives class c the weight
# `n_samples / (n_classes · n_c)`: the rare class weighs about 5, the common
# one about 0.56, so both classes contribute equally to the loss.
# `fit(class_weight=...)` multiplies each example's loss by its class's weight.

# %%
classes = np.array([0, 1])
weights = tn.data.compute_class_weight("balanced", classes=classes, y=y_train)
class_weight = {int(c): float(w) for c, w in zip(classes, weights)}
print("class weights:", {c: round(w, 3) for c, w in class_weight.items()})
n = np.bincount(y_train)
assert np.isclose(class_weight[MINORITY], len(y_train) / (2 * n[MINORITY]))

tn.random.seed(1)
model = build()
model.fit(encode(x_train), y_train, epochs=EPOCHS, batch_size=32, class_weight=class_weight,
          verbose=0)
results["class weights"] = scores(model)
print(results["class weights"])

# %% [markdown]
# ## 3. Random over-sampling (duplicates minority examples)

# %%
ros = tn.data.RandomOverSampler(random_state=0)
idx_over, y_over = ros.fit_resample(np.arange(len(y_train))[:, None], y_train)
x_over = [x_train[i] for i in idx_over[:, 0]]
print(f"over-sampled: {len(y_over)} examples, counts {np.bincount(y_over).tolist()}, "
      f"distinct rotten texts {len({x_over[i] for i in np.flatnonzero(y_over == MINORITY)})}")
assert np.sum(y_over == 1 - MINORITY) == np.sum(y_train == 1 - MINORITY)   # majority untouched

tn.random.seed(1)
model = build()
model.fit(encode(x_over), y_over, epochs=EPOCHS, batch_size=32, verbose=0)
results["over-sampling"] = scores(model)
print(results["over-sampling"])

# %% [markdown]
# The number of *distinct* rotten texts did not change: over-sampling only
# repeats them. Each epoch now takes ~1.8× as many steps.
#
# ## 4. Random under-sampling (drops majority examples)

# %%
rus = tn.data.RandomUnderSampler(random_state=0)
idx_under, y_under = rus.fit_resample(np.arange(len(y_train))[:, None], y_train)
x_under = [x_train[i] for i in idx_under[:, 0]]
print(f"under-sampled: {len(y_under)} examples, counts {np.bincount(y_under).tolist()} "
      f"(dropped {len(y_train) - len(y_under)} fresh reviews)")
assert np.sum(y_under == MINORITY) == np.sum(y_train == MINORITY)         # minority untouched

tn.random.seed(1)
model = build()
# a much smaller training set: give it more epochs so it sees a similar number of steps
model.fit(encode(x_under), y_under, epochs=EPOCHS * 3, batch_size=32, verbose=0)
results["under-sampling"] = scores(model)
print(results["under-sampling"])

# %% [markdown]
# ## 5. EDA augmentation of the minority class
#
# New rotten examples are perturbed copies of real ones; synonyms come from
# the nearest neighbours of the bundled GloVe vectors.

# %%
glove = tn.embeddings.load_glove_6b_50d()
eda = tn.text.EDA(alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, p_rd=0.1, num_aug=1,
                  synonyms=glove, random_state=0)
example = x_train[int(np.flatnonzero(y_train == MINORITY)[0])]
print("original :", example)
print("augmented:", eda.augment(example)[0])

x_aug, y_aug = tn.text.augment_minority(x_train, y_train, target_ratio=1.0, eda=eda,
                                        random_state=0)
print(f"augmented: {len(y_aug)} examples, counts {np.bincount(y_aug).tolist()}")
tn.random.seed(1)
model = build()
model.fit(encode(x_aug), y_aug, epochs=EPOCHS, batch_size=32, verbose=0)
results["EDA augmentation"] = scores(model)
print(results["EDA augmentation"])

# %% [markdown]
# ## Side by side

# %%
print(f"{'method':18s} {'accuracy':>8s} {'precision':>9s} {'recall':>7s} {'F1':>6s} "
      f"{'flagged':>7s}   (minority = rotten, {np.sum(y_test == MINORITY)} in test)")
for name, r in results.items():
    print(f"{name:18s} {r['accuracy']:8.3f} {r['precision']:9.3f} {r['recall']:7.3f} "
          f"{r['f1']:6.3f} {r['flagged']:7d}")

import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(8, 4))
names = list(results)
pos = np.arange(len(names))
for k, metric in enumerate(["precision", "recall", "f1"]):
    ax.bar(pos + (k - 1) * 0.27, [results[n][metric] for n in names], 0.27, label=metric)
ax.set_xticks(pos)
ax.set_xticklabels(names, fontsize=8)
ax.set_ylabel("minority class (rotten)")
ax.legend()
fig.tight_layout()
print("saved", tn.plot.save(fig, OUT / "07_imbalance.png"))

# %% [markdown]
# What to take away (check it against the table above — the numbers are from
# this run):
#
# * Without correction the model flags few reviews as rotten: high accuracy,
#   low minority recall.
# * Every correction trades precision for recall: the model flags more
#   reviews, finds more of the rotten ones, and raises more false alarms.
#   Which trade is right depends on the cost of a miss versus a false alarm
#   (moving the 0.5 threshold is another knob for the same trade).
# * Over-sampling and class weights are close relatives — duplicating an
#   example k times and weighting it k times give the same expected gradient;
#   under-sampling throws away majority data; augmentation adds *new*
#   (noisy) minority sentences.
