# %% [markdown]
# # 08 — Overfitting: L2, dropout, early stopping, augmentation
#
# A network with more parameters than training examples can memorise the
# training set: the training loss keeps falling while the loss on data it has
# not seen (the *validation* loss) turns and rises. That is **overfitting**,
# and the learning curves — loss per epoch on both sets — show it directly.
#
# We take a deliberately small training set (Rotten Tomatoes, a few thousand
# reviews) and a model with ~half a million parameters, watch it overfit, and
# try the four standard remedies:
#
# * **L2 regularisation** (weight decay): add `λ Σ w²` to the loss, so large
#   weights cost something; its gradient `2λw` pulls every weight towards 0.
# * **Dropout**: during training, zero each unit with probability `rate` and
#   scale the survivors by `1/(1−rate)` (so the expected value is unchanged);
#   at test time do nothing. The network cannot rely on any single unit.
# * **Early stopping**: watch the validation loss, stop when it has not
#   improved for `patience` epochs, and go back to the best weights seen
#   (`restore_best_weights=True`).
# * **Data augmentation**: train on perturbed copies of the examples too
#   (EDA: synonym replacement, insertion, swap, deletion).

# %%
import os
from pathlib import Path

import numpy as np

import tinynlp as tn
from tinynlp import functional as F

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
# Figures (and any file a tutorial writes) go to one git-ignored folder,
# tutorials/output/ (or $TINYNLP_TUTORIAL_OUT), never the current directory; opened
# as a notebook, the figures also show under their cells.
OUT = Path(os.environ.get("TINYNLP_TUTORIAL_OUT")
           or (Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd())
           / "output")
tn.random.seed(0)
rng = np.random.default_rng(0)

import matplotlib.pyplot as plt  # noqa: E402

# %% [markdown]
# ## Data: a small training set, a validation set, a test set

# %%
(x_all, y_all), (x_test_text, y_test) = tn.datasets.load_rotten_tomatoes()
perm = rng.permutation(len(x_all))
n_train, n_val = (600, 300) if QUICK else (3000, 1500)
x_train_text = [x_all[i] for i in perm[:n_train]]
y_train = y_all[perm[:n_train]]
x_val_text = [x_all[i] for i in perm[n_train:n_train + n_val]]
y_val = y_all[perm[n_train:n_train + n_val]]
if QUICK:
    x_test_text, y_test = x_test_text[:300], y_test[:300]

vocab_size, maxlen = (3000, 30) if QUICK else (8000, 40)
tok = tn.text.Tokenizer(num_words=vocab_size, oov_token="<unk>")
tok.fit_on_texts(x_train_text)


def encode(texts):
    return tn.text.pad_sequences(tok.texts_to_sequences(texts), maxlen=maxlen)


x_train, x_val, x_test = encode(x_train_text), encode(x_val_text), encode(x_test_text)
print(f"train {len(y_train)}, validation {len(y_val)}, test {len(y_test)}")
EPOCHS = 4 if QUICK else 15

# %% [markdown]
# ## Dropout, in one line of maths
#
# Before training with it, check what `F.dropout` does: about `rate` of the
# entries become 0, the rest are multiplied by `1/(1−rate)`, so the mean is
# kept; with `training=False` it is the identity.

# %%
ones = tn.tensor(np.ones((1000, 100), np.float32))
dropped = F.dropout(ones, 0.5, training=True).data
print(f"fraction zeroed {np.mean(dropped == 0):.3f}, surviving value {dropped.max():.1f}, "
      f"mean {dropped.mean():.3f}")
assert set(np.unique(dropped)) == {0.0, 2.0}
assert np.array_equal(F.dropout(ones, 0.5, training=False).data, ones.data)

# %% [markdown]
# ## The model, with the four knobs

# %%
def build(l2=0.0, dropout=0.0):
    reg = tn.regularizers.L2(l2) if l2 else None
    layers = [tn.layers.Embedding(vocab_size, 32 if QUICK else 64, embeddings_regularizer=reg)]
    if dropout:
        layers.append(tn.layers.Dropout(dropout))
    layers += [tn.layers.Conv1D(32 if QUICK else 128, 3, activation="relu", kernel_regularizer=reg),
               tn.layers.GlobalMaxPooling1D()]
    if dropout:
        layers.append(tn.layers.Dropout(dropout))
    layers += [tn.layers.Dense(64, activation="relu", kernel_regularizer=reg)]
    if dropout:
        layers.append(tn.layers.Dropout(dropout))
    layers.append(tn.layers.Dense(1, activation="sigmoid"))
    model = tn.Sequential(layers)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def run(name, model, x, y, callbacks=None):
    tn.random.seed(1)
    history = model.fit(x, y, epochs=EPOCHS, batch_size=32, validation_data=(x_val, y_val),
                        callbacks=callbacks, verbose=0)
    _, test_acc = model.evaluate(x_test, y_test, verbose=0)
    h = history.history
    final_val_loss[name] = model.evaluate(x_val, y_val, verbose=0)[0]
    best = int(np.argmin(h["val_loss"]))
    print(f"{name:16s} final train loss {h['loss'][-1]:.3f}, val loss {h['val_loss'][-1]:.3f} "
          f"(best {h['val_loss'][best]:.3f} at epoch {best + 1}); test accuracy {test_acc:.3f}")
    tn.plot.history(history, path=OUT / f"08_{name.replace(' ', '_')}.png", title=name)
    return history, test_acc


runs, final_val_loss = {}, {}

# %% [markdown]
# ## No regularisation: watch it overfit

# %%
model = build()
model.predict(x_train[:1])          # builds the weights, so the summary can count them
model.summary()
runs["plain"] = run("plain", model, x_train, y_train)
h = runs["plain"][0].history
print(f"parameters {model.count_params():,} for {len(y_train):,} training reviews")

# %% [markdown]
# Training loss falls towards 0 (the model memorises), while the validation
# loss reaches its minimum after a few epochs and then climbs: from there on,
# every epoch makes the model *more confident and more wrong* on new reviews.

# %%
if not QUICK:
    assert h["loss"][-1] < h["val_loss"][-1]
    assert min(h["val_loss"]) < h["val_loss"][-1]

# %% [markdown]
# ## L2 regularisation
#
# `tn.regularizers.L2(λ)` on a weight adds `λ Σ w²` to the loss (the
# regularisation term is included in the training loss that `fit` reports,
# not in `val_loss`).

# %%
runs["L2"] = run("L2", build(l2=1e-3), x_train, y_train)

# %% [markdown]
# ## Dropout

# %%
runs["dropout"] = run("dropout", build(dropout=0.5), x_train, y_train)

# %% [markdown]
# ## Early stopping with `restore_best_weights`
#
# The model trains until the validation loss has not improved for
# `patience` epochs, then its weights are set back to those of the best
# epoch — we check that the restored model's validation loss *is* the best one.

# %%
stopper = tn.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
model = build()
runs["early stopping"] = run("early stopping", model, x_train, y_train, callbacks=[stopper])
h = runs["early stopping"][0].history
val_loss_now = model.evaluate(x_val, y_val, verbose=0)[0]
print(f"ran {len(h['loss'])} of {EPOCHS} epochs; best epoch {stopper.best_epoch + 1}; "
      f"validation loss of the restored model {val_loss_now:.4f} (best logged "
      f"{min(h['val_loss']):.4f})")
assert abs(val_loss_now - min(h["val_loss"])) < 1e-3

# %% [markdown]
# ## Data augmentation
#
# Two EDA variants of every training review (synonyms from GloVe neighbours),
# so the model sees 3× as many, slightly different, sentences.

# %%
glove = tn.embeddings.load_glove_6b_50d()
eda = tn.text.EDA(alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, p_rd=0.1, num_aug=2,
                  synonyms=glove, random_state=0)
aug_texts, aug_labels = list(x_train_text), list(y_train)
for text, label in zip(x_train_text, y_train):
    for new in eda.augment(text):
        aug_texts.append(new)
        aug_labels.append(label)
print(f"{len(x_train_text)} reviews -> {len(aug_texts)} with augmentation")
print("example:", x_train_text[0], "->", eda.augment(x_train_text[0])[0])
runs["augmentation"] = run("augmentation", build(), encode(aug_texts), np.array(aug_labels))

# %% [markdown]
# ## All validation curves together

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for name, (history, _) in runs.items():
    vl = history.history["val_loss"]
    ax.plot(range(1, len(vl) + 1), vl, "-o", markersize=3, label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("validation loss")
ax.legend()
fig.tight_layout()
tn.plot.save(fig, OUT / "08_val_loss_all.png")
print(f"saved 08_val_loss_all.png and one learning-curve plot per run (08_<name>.png) in {OUT}")

print(f"\n{'run':16s} {'best val loss':>13s} {'val loss of the final model':>27s} "
      f"{'test acc':>8s}")
for name, (history, test_acc) in runs.items():
    vl = history.history["val_loss"]
    print(f"{name:16s} {min(vl):13.3f} {final_val_loss[name]:27.3f} "
          f"{test_acc:8.3f}")

# %% [markdown]
# Read the table against the plots (every number is from this run). The
# plain model's final validation loss sits well above its best: it kept
# training past the point where it generalised best. Early stopping returns
# the best weights by construction. Dropout and L2 slow the memorisation
# down (training loss falls more slowly), and how much they help depends on
# their strength (`rate`, `λ`) — try other values. Augmentation gives more
# varied data, but perturbed copies of the same reviews are no
# substitute for new ones. Test accuracies differ less than the losses:
# overfitting first shows as over-confidence (a large loss on the reviews the
# model gets wrong) before it costs accuracy. In practice one combines them —
# dropout plus early stopping is the usual default.
