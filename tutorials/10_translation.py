# %% [markdown]
# # 10 — Translation with an encoder–decoder
#
# Translation maps a sequence to a sequence of a *different* length. The
# classic recurrent answer (Sutskever et al., 2014; Cho et al., 2014):
#
# * an **encoder** LSTM reads the source sentence and ends in a state
#   `(h, c)` — a fixed-size summary of it;
# * a **decoder** LSTM starts from that state and writes the target sentence
#   one word at a time, each step predicting the next word from the words so
#   far: `p(y_t | y_<t, x)`.
#
# Training uses **teacher forcing**: the decoder's input at step t is the
# *true* previous word (not its own guess), so all steps train in parallel
# from one forward pass. At test time there is no true previous word; we
# decode **greedily**, feeding back the most likely word at each step.
#
# Data: Spanish → English Bible verses (Reina-Valera 1909 / King James),
# bundled with tinynlp. We score with **corpus BLEU** (clipped n-gram
# precision, n = 1…4, times a brevity penalty) and compare with a trivial
# baseline: copying the source sentence unchanged.

# %%
import os
from pathlib import Path

import numpy as np

import tinynlp as tn
from tinynlp.metrics.bleu import corpus_bleu

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
# Figures (and any file a tutorial writes) go to one git-ignored folder,
# tutorials/output/ (or $TINYNLP_TUTORIAL_OUT), never the current directory; opened
# as a notebook, the figures also show under their cells.
OUT = Path(os.environ.get("TINYNLP_TUTORIAL_OUT")
           or (Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd())
           / "output")
tn.random.seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Data and vocabularies
#
# Targets get `<start>` in front and `<end>` behind. The decoder input is
# `<start> y_1 … y_n`, the decoder target `y_1 … y_n <end>` — the same
# sentence shifted by one.

# %%
max_tokens = 10 if QUICK else 15
(src_train, tgt_train), (src_test, tgt_test) = tn.datasets.load_translation_pairs(
    max_tokens=max_tokens)
if QUICK:
    src_train, tgt_train = src_train[:2000], tgt_train[:2000]
    src_test, tgt_test = src_test[:150], tgt_test[:150]
print(f"{len(src_train)} training pairs, {len(src_test)} test pairs")
print("example:", src_train[0], "=>", tgt_train[0])

tokenize = tn.text.text_to_word_sequence
src_tok = tn.text.Tokenizer(num_words=8000, oov_token="<unk>")
src_tok.fit_on_texts(src_train)
tgt_tok = tn.text.Tokenizer(num_words=6000, oov_token="<unk>", filters="")
tgt_tok.fit_on_texts(["<start> <end> " + " ".join(tokenize(t)) for t in tgt_train])
START, END = tgt_tok.word_index["<start>"], tgt_tok.word_index["<end>"]
Vs = min(8000, len(src_tok.word_index) + 1)
Vt = min(6000, len(tgt_tok.word_index) + 1)
src_len, tgt_len = max_tokens + 2, max_tokens + 4


def encode_pairs(srcs, tgts):
    S = tn.text.pad_sequences(src_tok.texts_to_sequences(srcs), maxlen=src_len, padding="post",
                              truncating="post")
    T = tgt_tok.texts_to_sequences([" ".join(tokenize(t)) for t in tgts])
    dec_in = tn.text.pad_sequences([[START] + t for t in T], maxlen=tgt_len, padding="post",
                                   truncating="post")
    dec_out = tn.text.pad_sequences([t + [END] for t in T], maxlen=tgt_len, padding="post",
                                    truncating="post")
    return S, dec_in, dec_out


S_train, Din_train, Dout_train = encode_pairs(src_train, tgt_train)
S_test, _, _ = encode_pairs(src_test, tgt_test)
print(f"source vocabulary {Vs}, target vocabulary {Vt}")
print("decoder input :", Din_train[0][:8])
print("decoder target:", Dout_train[0][:8])
assert np.array_equal(Din_train[0][1:6], Dout_train[0][:5])

# %% [markdown]
# ## The model
#
# Every line of the forward pass is in `call`. The encoder's per-step outputs
# are thrown away; only its final state `(h, c)` reaches the decoder, as
# `initial_state`. Padding is masked in both LSTMs; the loss ignores padded
# target positions (`ignore_index=0`).

# %%
class Seq2Seq(tn.Model):
    def __init__(self, Vs, Vt, emb=64, units=128, **kwargs):
        super().__init__(**kwargs)
        self.src_embedding = tn.layers.Embedding(Vs, emb)
        self.encoder = tn.layers.LSTM(units, return_state=True)
        self.tgt_embedding = tn.layers.Embedding(Vt, emb)
        self.decoder = tn.layers.LSTM(units, return_sequences=True, return_state=True)
        self.project = tn.layers.Dense(Vt)                  # logits over target words

    def encode(self, src):
        _, h, c = self.encoder(self.src_embedding(src), mask=src != 0)
        return h, c

    def decode(self, dec_in, state, mask=None):
        seq, h, c = self.decoder(self.tgt_embedding(dec_in), mask=mask, initial_state=list(state))
        return self.project(seq), (h, c)

    def call(self, inputs, training=False):
        src, dec_in = inputs
        logits, _ = self.decode(dec_in, self.encode(src), mask=dec_in != 0)
        return logits


units = 128 if QUICK else 256
model = Seq2Seq(Vs, Vt, emb=64 if QUICK else 128, units=units)
model.compile(optimizer=tn.optimizers.Adam(0.003, clipnorm=5.0),
              loss=tn.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_index=0))
# A few thousand verse pairs overfit within a handful of epochs: stop once the
# validation loss has not improved for 2 epochs and keep the best weights
# (tutorial 08 shows early stopping in detail).
stopper = tn.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
history = model.fit([S_train, Din_train], Dout_train, epochs=3 if QUICK else 12, batch_size=64,
                    validation_split=0.1, callbacks=[stopper], verbose=0)
print("training loss per epoch:  ", [round(v, 3) for v in history.history["loss"]])
print("validation loss per epoch:", [round(v, 3) for v in history.history["val_loss"]])
print(f"ran {len(history.history['loss'])} epochs; kept the weights of epoch {stopper.best_epoch + 1}")
assert history.history["loss"][-1] < history.history["loss"][0]

tn.plot.history(history, path=OUT / "10_translation_history.png")

# %% [markdown]
# ## Greedy decoding
#
# Encode the source once; start the decoder from `<start>`; at each step take
# the arg-max word and feed it back, carrying the LSTM state, until `<end>`
# (or a length limit). All test sentences are decoded as one batch.

# %%
def greedy_translate(src_ids, max_len=tgt_len):
    with tn.no_grad():
        state = model.encode(src_ids)
        word = np.full((len(src_ids), 1), START, np.int64)
        outputs, done = [], np.zeros(len(src_ids), bool)
        for _ in range(max_len):
            logits, state = model.decode(word, state)
            word = logits.data[:, -1].argmax(axis=-1)[:, None]
            outputs.append(word[:, 0])
            done |= word[:, 0] == END
            if done.all():
                break
    sentences = []
    for row in np.stack(outputs, axis=1):
        words = []
        for i in row:
            if i == END:
                break
            words.append(tgt_tok.index_word.get(int(i), "<unk>"))
        sentences.append(words)
    return sentences


hypotheses = greedy_translate(S_test)
references = [[tokenize(t)] for t in tgt_test]
for k in range(3):
    print("source   :", src_test[k])
    print("reference:", " ".join(references[k][0]))
    print("model    :", " ".join(hypotheses[k]))
    print()

# %% [markdown]
# ## BLEU, and the copy-the-source baseline
#
# Copying the source scores above zero because names, numbers and
# punctuation are shared between the languages ("Jehová", "Israel", ...).
# A model has to beat that to have learned anything about translation.

# %%
bleu_model = corpus_bleu(references, hypotheses)
bleu_copy = corpus_bleu(references, [tokenize(s) for s in src_test])
bleu_model_s = corpus_bleu(references, hypotheses, smooth=True)
bleu_copy_s = corpus_bleu(references, [tokenize(s) for s in src_test], smooth=True)
print(f"corpus BLEU on {len(references)} test verses: model {100 * bleu_model:.2f}, "
      f"copy the source {100 * bleu_copy:.2f}")
print(f"(add-one smoothed: model {100 * bleu_model_s:.2f}, copy {100 * bleu_copy_s:.2f})")
if not QUICK:
    assert bleu_model > bleu_copy

# %% [markdown]
# A small model trained for minutes on a few thousand verse pairs produces fluent
# but often wrong English, and BLEU reflects that. The single `(h, c)`
# bottleneck is the main limit: the whole source has to fit in 256 numbers.
# **Attention** (Bahdanau et al., 2015) lets each decoder step look back at
# all encoder states — the step from here to the Transformer.
