"""Spanish → English translation with an RNN encoder–decoder (Sutskever et al., 2014).

Data: Bible verses of at most 20 words on both sides (Reina-Valera 1909 →
King James Version, :func:`tinynlp.datasets.load_translation_pairs`),
lowercased and split into word and punctuation tokens; the vocabularies keep
the words seen at least twice (at most ``src_vocab`` / ``tgt_vocab``), the
rest become ``<unk>``.

Model (:class:`Seq2Seq`)::

    encoder:  Embedding(mask_zero) → LSTM(return_state)          → (h, c)
    decoder:  Embedding(mask_zero) → LSTM(return_sequences, initial_state=(h, c))
              → Dense(target vocabulary)                          (logits)

The encoder reads the source backwards (``go_backwards=True``, Sutskever's
trick: the first target words then sit close to the source words they
translate); padded steps are skipped thanks to the mask, so the final state
is the one after the first real source word.

Model ``attention`` adds Luong-style dot-product attention: at every step
the decoder output is compared with the encoder outputs at every source
position, and their softmax-weighted average (the *context*) is combined with
it before the output layer (see :class:`Seq2Seq`).  ``lstm`` (the default)
is the plain encoder–decoder, whose only view of the source is the final
encoder state.  ``transformer`` replaces both recurrent networks with
Transformer blocks — self-attention over the source, causal self-attention
over the target and cross-attention from target to source
(:class:`~tinynlp.tasks.transformer_seq2seq.TransformerSeq2Seq`) — trained
with AdamW, a linear warm-up and a cosine decay; it decodes with KV caches.

Training uses *teacher forcing*: the decoder reads ``<bos> y₁ … yₙ`` and is
trained to output ``y₁ … yₙ <eos>``, i.e. at each step it is given the
correct previous word, not its own guess.  The loss is the sparse
cross-entropy over the real target tokens (the padding id 0 is ignored).

Decoding feeds the model its own words one step at a time, carrying the
decoder state (an LSTM's ``[h, c]``, a Transformer's keys and values;
:func:`start_decoding`): *greedy* takes the most likely word at each step; *beam
search* keeps the ``beam_size`` best partial translations by total
log-probability and returns the finished one with the best length-normalised
score ``(Σ log p) / length``.  With ``beam_size=1`` it is greedy decoding.

Metric: corpus BLEU (:func:`tinynlp.metrics.bleu.corpus_bleu`) on the test
verses, beside the copy-the-source baseline (the Spanish sentence offered as
its own English translation, which scores on names, numbers and punctuation).
It is computed on this task's own tokens (lowercased words and punctuation), so
it is not comparable with published figures; when the ``sacrebleu`` package is
installed (the ``compare`` extra) the results also carry sacreBLEU on the
detokenized output against the untouched reference verses (13a tokenization,
lowercased, since the model writes lowercase: :func:`sacre_bleu`).  Every BLEU
here is on the ×100 scale, as sacreBLEU and the papers print it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import functional as F
from .. import layers as L
from .. import losses as tn_losses
from .. import optimizers as tn_optimizers
from .. import random as tn_random
from ..autograd import Tensor, no_grad
from ..data.batching import batch_indices
from ..data.datasets import load_translation_pairs
from ..metrics.bleu import corpus_bleu
from ..models import Model, load_model
from ..progress import Progress
from ..text import Vocab, word_tokenize
from .common import TaskResult, quick_mode, read_json, save_run, start_run
from .transformer_seq2seq import TransformerSeq2Seq

__all__ = [
    "MODELS",
    "PairBatches",
    "RNNDecoding",
    "Seq2Seq",
    "beam_hypotheses",
    "beam_search",
    "beam_search_all",
    "detokenize",
    "evaluate",
    "greedy_decode",
    "load",
    "sacre_bleu",
    "start_decoding",
    "tokenize",
    "train",
    "translate",
]

MODELS = ("lstm", "attention", "transformer")
TASK = "translation"
#: epochs when ``train(epochs=None)`` (the CLI's default too; docs/task_table.md uses it)
DEFAULT_EPOCHS = 5
BOS, EOS = "<bos>", "<eos>"


def tokenize(text):
    """Lowercased word and punctuation tokens."""
    return word_tokenize(text, lower=True)


def detokenize(tokens):
    """Tokens → a readable string (no space before punctuation)."""
    text = " ".join(tokens)
    for p in (".", ",", ":", ";", "?", "!", ")"):
        text = text.replace(" " + p, p)
    return text.replace("( ", "(")


@L.register_layer
class Seq2Seq(Model):
    """RNN encoder–decoder.  ``model([src_ids, tgt_in_ids])`` → logits ``(B, T, V_tgt)``.

    :meth:`encode` gives the encoder's final ``[h, c]`` (and, with
    ``attention=True``, its outputs at every source position and their mask);
    :meth:`decode` runs the decoder from given states and returns ``(logits,
    states)`` so decoding can go one step at a time.

    ``attention=True`` adds Luong-style dot-product attention (Luong et al.,
    2015): for decoder output ``s_t`` and encoder outputs ``h_1 … h_S``,

        a_t = softmax_j(s_t · h_j)    (padded source positions excluded)
        c_t = Σ_j a_tj h_j
        s̃_t = tanh([c_t ; s_t] W_c + b_c)      →  logits = s̃_t W_o + b_o
    """

    def __init__(self, src_vocab_size=1000, tgt_vocab_size=1000, embedding_dim=128, units=256,
                 reverse_source=True, attention=False, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = {"src_vocab_size": src_vocab_size, "tgt_vocab_size": tgt_vocab_size,
                           "embedding_dim": embedding_dim, "units": units,
                           "reverse_source": reverse_source, "attention": attention}
        self.attention = bool(attention)
        self.src_embedding = L.Embedding(src_vocab_size, embedding_dim, mask_zero=True,
                                         sparse=True)
        self.encoder = L.LSTM(units, return_sequences=self.attention, return_state=True,
                              go_backwards=reverse_source)
        self.tgt_embedding = L.Embedding(tgt_vocab_size, embedding_dim, mask_zero=True,
                                         sparse=True)
        self.decoder = L.LSTM(units, return_sequences=True, return_state=True)
        if self.attention:
            self.combine = L.Dense(units, activation="tanh")
        self.out = L.Dense(tgt_vocab_size)

    def encode(self, src, training=False):
        """``(states, memory, memory_mask)``: the final ``[h, c]``; with attention the
        encoder outputs ``(B, S, H)`` and their ``(B, S)`` mask (else None, None)."""
        e = self.src_embedding(src)
        mask = self.src_embedding.compute_mask(src)
        outputs, h, c = self.encoder(e, training=training, mask=mask)
        if not self.attention:
            return [h, c], None, None
        return [h, c], outputs, self.encoder.compute_mask(e, mask)

    def _attend(self, hs, memory, memory_mask):
        scores = F.matmul(hs, F.swapaxes(memory, 1, 2))                    # (B, T, S)
        if memory_mask is not None:
            m = np.asarray(getattr(memory_mask, "data", memory_mask), dtype=bool)
            bias = np.where(m, 0.0, -1e9).astype(scores.dtype)[:, None, :]  # (B, 1, S)
            scores = scores + Tensor(bias)
        context = F.matmul(F.softmax(scores, axis=-1), memory)              # (B, T, H)
        return self.combine(F.concat([context, hs], axis=-1))

    def decode(self, tgt_in, states, memory=None, memory_mask=None, training=False):
        d = self.tgt_embedding(tgt_in)
        hs, h, c = self.decoder(d, training=training,
                                mask=self.tgt_embedding.compute_mask(tgt_in),
                                initial_state=states)
        if self.attention:
            if memory is None:
                raise ValueError("Seq2Seq.decode: this model attends to the encoder outputs; "
                                 "pass memory= (from encode)")
            hs = self._attend(hs, memory, memory_mask)
        return self.out(hs), [h, c]

    def call(self, x, training=False):
        if not isinstance(x, (list, tuple)) or len(x) != 2:
            raise ValueError("Seq2Seq: expected the inputs [source ids (B, S), decoder input ids "
                             f"(B, T)], got {type(x).__name__}")
        src, tgt_in = x
        states, memory, memory_mask = self.encode(src, training)
        logits, _ = self.decode(tgt_in, states, memory, memory_mask, training)
        return logits

    def get_config(self):
        return {"name": self.name, **self.config}


class PairBatches:
    """Teacher-forcing batches ``([src, tgt_in], tgt_out)``, bucketed by length.

    ``src`` is post-padded with 0; ``tgt_in = <bos> y``, ``tgt_out = y <eos>``,
    post-padded with 0 (ignored by the loss).  Re-shuffled every epoch from
    ``tn.random``.
    """

    def __init__(self, src_ids, tgt_ids, bos, eos, batch_size=64, shuffle=True, bucket_size=20):
        self.src, self.tgt = list(src_ids), list(tgt_ids)
        self.bos, self.eos = bos, eos
        self.batch_size, self.shuffle, self.bucket_size = batch_size, shuffle, bucket_size
        self.lengths = np.array([len(s) + len(t) for s, t in zip(self.src, self.tgt)])

    def __len__(self):
        return (len(self.src) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        rng = tn_random.get_rng() if self.shuffle else None
        for idx in batch_indices(self.lengths, self.batch_size, self.shuffle, self.bucket_size,
                                 rng=rng):
            yield self.make(idx)

    def make(self, idx):
        b = len(idx)
        s_len = max(1, max(len(self.src[i]) for i in idx))
        t_len = max(len(self.tgt[i]) for i in idx) + 1
        src = np.zeros((b, s_len), np.int64)
        tin = np.zeros((b, t_len), np.int64)
        tout = np.zeros((b, t_len), np.int64)
        for row, i in enumerate(idx):
            s, t = self.src[i], self.tgt[i]
            src[row, :len(s)] = s
            tin[row, :len(t) + 1] = [self.bos, *t]
            tout[row, :len(t) + 1] = [*t, self.eos]
        return [src, tin], tout


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _src_array(ids_list):
    s_len = max(1, max(len(s) for s in ids_list))
    src = np.zeros((len(ids_list), s_len), np.int64)
    for row, s in enumerate(ids_list):
        src[row, :len(s)] = s
    return src


class RNNDecoding:
    """:class:`Seq2Seq`'s decoder state while writing (the protocol of
    :func:`start_decoding`): the encoder ran once; ``step(tokens (B, 1))`` feeds one
    token per row and returns the next-token logits ``(B, V)`` (float64);
    ``reorder(rows)`` keeps (and may repeat) batch rows.  With ``use_cache`` the
    decoder state ``[h, c]`` is carried from step to step; without, every step re-reads
    the whole prefix from the encoder's state (the same logits, more work)."""

    def __init__(self, model, src, use_cache=True, max_len=50):
        self.model, self.use_cache = model, bool(use_cache)
        self.max_steps = int(max_len)
        with no_grad():
            states, memory, memory_mask = model.encode(src)
        self.start = [s.data for s in states]
        self.states = self.start
        self.memory = None if memory is None else memory.data
        self.memory_mask = None if memory_mask is None else np.asarray(
            getattr(memory_mask, "data", memory_mask), dtype=bool)
        self.prefix = np.zeros((self.start[0].shape[0], 0), np.int64)

    def _decode(self, tokens, states):
        memory = None if self.memory is None else Tensor(self.memory)
        with no_grad():
            logits, new = self.model.decode(tokens, states, memory, self.memory_mask)
        return logits.data[:, -1].astype(np.float64), [s.data for s in new]

    def step(self, tokens):
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1, 1)
        if not self.use_cache:
            self.prefix = np.concatenate([self.prefix, tokens], axis=1)
            return self._decode(self.prefix, self.start)[0]
        logits, self.states = self._decode(tokens, self.states)
        return logits

    def reorder(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        self.states = [s[rows] for s in self.states]
        self.start = [s[rows] for s in self.start]
        self.prefix = self.prefix[rows]
        if self.memory is not None:
            self.memory, self.memory_mask = self.memory[rows], self.memory_mask[rows]


def start_decoding(model, src, use_cache=True, max_len=None):
    """The decoder state of ``model`` for the source id array ``src`` (B, S): the
    model's own ``start_decoding`` (a Transformer: KV caches) or :class:`RNNDecoding`.
    Its ``max_steps`` is the most tokens it can be fed (``max_len``, or fewer for a
    model with a bounded context)."""
    if hasattr(model, "start_decoding"):
        return model.start_decoding(src, use_cache=use_cache, max_len=max_len)
    return RNNDecoding(model, src, use_cache=use_cache, max_len=max_len)


def greedy_decode(model, src_ids, bos, eos, max_len=50, batch_size=128, use_cache=True):
    """Greedy decoding of a list of source id lists → list of target id lists (no
    ``<eos>``): at each step the most likely word (never ``<pad>`` or ``<bos>``), fed
    back with the carried state (:func:`start_decoding`)."""
    out = []
    for start in range(0, len(src_ids), batch_size):
        chunk = src_ids[start:start + batch_size]
        dec = start_decoding(model, _src_array(chunk), use_cache, max_len)
        b = len(chunk)
        tokens = np.full(b, bos, np.int64)
        seqs = [[] for _ in range(b)]
        done = np.zeros(b, bool)
        for _ in range(dec.max_steps):
            last = dec.step(tokens)
            last[:, [0, bos]] = -np.inf  # never <pad> or <bos>
            nxt = last.argmax(axis=-1)
            for i in np.flatnonzero(~done):
                if nxt[i] == eos:
                    done[i] = True
                else:
                    seqs[i].append(int(nxt[i]))
            if done.all():
                break
            tokens = nxt.astype(np.int64)
        out.extend(seqs)
    return out


def beam_hypotheses(model, src, bos, eos, beam_size=4, max_len=50, use_cache=True):
    """Beam search for one source id list → its hypotheses ``[(score, ids), ...]``, best
    first (see :func:`beam_search`; ``ids`` without ``<eos>``; ``score`` the
    length-normalised log-probability).  ``use_cache=False`` re-reads each hypothesis'
    whole prefix at every step instead of carrying the decoder state (a Transformer's
    KV caches): the same hypotheses and scores."""
    if isinstance(beam_size, bool) or not isinstance(beam_size, (int, np.integer)) \
            or beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be a positive int, got {beam_size!r}")
    # one row per live hypothesis; the encoder ran once, for the single source
    dec = start_decoding(model, _src_array([src]), use_cache, max_len)
    seqs, scores = [[]], np.zeros(1)
    tokens = np.array([bos], np.int64)
    finished = []
    for _ in range(dec.max_steps):
        logp = _log_softmax(dec.step(tokens))
        logp[:, [0, bos]] = -np.inf  # never <pad> or <bos>
        cand = (scores[:, None] + logp).ravel()
        order = np.argsort(-cand, kind="stable")[:2 * beam_size]
        vocab = logp.shape[1]
        keep, keep_words = [], []
        for flat in order:
            i, w = divmod(int(flat), vocab)
            if w == eos:
                finished.append((cand[flat] / (len(seqs[i]) + 1), seqs[i]))
                if len(finished) >= beam_size:
                    break
            else:
                keep.append(i)
                keep_words.append(w)
                if len(keep) == beam_size:
                    break
        if len(finished) >= beam_size or not keep:
            break
        rows = np.array(keep)
        seqs = [seqs[i] + [w] for i, w in zip(keep, keep_words)]
        scores = cand[rows * vocab + np.array(keep_words)]
        dec.reorder(rows)
        tokens = np.array(keep_words, np.int64)
    if not finished:
        finished = [(s / max(len(q), 1), q) for s, q in zip(scores, seqs)]
    order = sorted(range(len(finished)), key=lambda k: (-finished[k][0], k))
    return [(float(finished[k][0]), list(finished[k][1])) for k in order]


def beam_search(model, src, bos, eos, beam_size=4, max_len=50, use_cache=True):
    """Beam search for one source id list → the best target id list (no ``<eos>``).

    Each step extends every live hypothesis by every word, scores it by its
    total log-probability, and keeps the ``beam_size`` best; a hypothesis that
    ends in ``<eos>`` is set aside as finished.  The search stops when
    ``beam_size`` hypotheses have finished (or after ``max_len`` steps), and
    the finished hypothesis with the best length-normalised score
    ``Σ log p / (number of words + 1 for <eos>)`` wins (unfinished ones
    compete only if none finished).  Ties go to the lower word id, as with
    ``argmax``, so ``beam_size=1`` reproduces :func:`greedy_decode`.  Neither
    decoder ever writes ``<pad>`` or ``<bos>``.  The decoder state (an LSTM's
    ``[h, c]``, a Transformer's KV caches) is reordered with the surviving
    hypotheses at every step (:func:`start_decoding`).
    """
    return beam_hypotheses(model, src, bos, eos, beam_size, max_len, use_cache)[0][1]


# ------------------------------------------------------------------------------ data
def _data(quick, seed):
    (src_train, tgt_train), (src_test, tgt_test) = load_translation_pairs(max_tokens=20)
    if quick:
        rng = np.random.default_rng(seed)
        pick = rng.permutation(len(src_train))[:400]
        src_train, tgt_train = [src_train[i] for i in pick], [tgt_train[i] for i in pick]
        pick = rng.permutation(len(src_test))[:40]
        src_test, tgt_test = [src_test[i] for i in pick], [tgt_test[i] for i in pick]
    return (src_train, tgt_train), (src_test, tgt_test)


def _bleu(candidates, references):
    """Corpus BLEU (a :class:`~tinynlp.metrics.bleu.BleuScore` in [0, 1]) of token lists
    against one reference token list each; reported ×100."""
    return corpus_bleu([[r] for r in references], candidates)


def sacre_bleu(hypotheses, references):
    """``(score ×100, signature)`` of sacreBLEU on detokenized strings, or ``(None, None)``
    when the ``sacrebleu`` package is not installed.

    ``hypotheses``: one detokenized string per test sentence; ``references``: the
    reference strings as the data set has them (not tokenized, original case).  The
    comparison is lowercased (the model writes lowercase) with sacreBLEU's default 13a
    tokenization, so the figure can be set beside published ones that state the same
    signature.
    """
    try:
        import sacrebleu
    except ImportError:
        return None, None
    metric = sacrebleu.BLEU(lowercase=True)
    score = metric.corpus_score(list(hypotheses), [list(references)])
    return float(score.score), str(metric.get_signature())


#: the Transformer's size and training (tuned a little on the validation loss)
TRANSFORMER = {"hidden_dim": 128, "num_layers": 2, "num_heads": 4, "intermediate_dim": 512,
               "dropout": 0.1, "learning_rate": 0.001, "sequence_length": 128}


def _build(model, sv, tv, embedding_dim, units, learning_rate, quick, steps, **transformer):
    """The network and its optimizer: the LSTM encoder–decoder with Adam (as before), or
    the Transformer with AdamW, a linear warm-up over the first 5 % of the steps and a
    cosine decay to a tenth of the peak rate."""
    if model != "transformer":
        net = Seq2Seq(len(sv), len(tv), embedding_dim, units, attention=model == "attention")
        return net, tn_optimizers.Adam(learning_rate or 0.002, clipnorm=5.0)
    c = dict(TRANSFORMER)
    if quick:
        c.update(hidden_dim=16, num_heads=2, intermediate_dim=32)
    c.update({k: v for k, v in transformer.items() if v is not None})
    peak = learning_rate or c.pop("learning_rate")
    c.pop("learning_rate", None)
    net = TransformerSeq2Seq(len(sv), len(tv), **c)
    warmup = max(1, steps // 20)
    schedules = tn_optimizers.schedules
    lr = schedules.LinearWarmup(schedules.CosineDecay(peak, max(1, steps - warmup), alpha=0.1),
                                warmup)
    return net, tn_optimizers.AdamW(lr, weight_decay=0.01, clipnorm=1.0)


def train(model="lstm", epochs=None, batch_size=32, embedding_dim=128, units=256,
          src_vocab=6000, tgt_vocab=5000, beam_size=4, learning_rate=None, seed=0,
          out="runs/translate", verbose="auto", plot=True, hidden_dim=None, num_layers=None,
          num_heads=None, intermediate_dim=None, dropout=None) -> TaskResult:
    """Train the encoder–decoder on Spanish→English Bible verses; BLEU on the test verses
    (beam search with ``beam_size``; greedy BLEU in ``extra``) beside copy-the-source.

    ``embedding_dim`` / ``units``: the LSTMs' sizes; ``hidden_dim``, ``num_layers``,
    ``num_heads``, ``intermediate_dim``, ``dropout``: the Transformer's (default
    :data:`TRANSFORMER`).  ``learning_rate``: default 0.002 (Adam) for the LSTMs, 0.001
    (the peak of the schedule) for the Transformer."""
    quick = start_run("translation", model, MODELS, seed)
    if epochs is None:
        epochs = 1 if quick else DEFAULT_EPOCHS
    if quick:
        embedding_dim, units = min(embedding_dim, 16), min(units, 32)
    (src_train, tgt_train), (src_test, tgt_test) = _data(quick, seed)
    src_tok = [tokenize(s) for s in src_train]
    tgt_tok = [tokenize(t) for t in tgt_train]
    sv = Vocab.build(src_tok, min_freq=1 if quick else 2, max_size=src_vocab)
    tv = Vocab.build(tgt_tok, min_freq=1 if quick else 2, max_size=tgt_vocab,
                     specials=["<pad>", "<unk>", BOS, EOS])
    bos, eos = tv[BOS], tv[EOS]
    src_ids = [sv.encode(s) for s in src_tok]
    tgt_ids = [tv.encode(t) for t in tgt_tok]
    n_val = max(1, len(src_ids) // 20)  # 5 % for the learning curves
    order = np.random.default_rng(seed).permutation(len(src_ids))
    val_idx, fit_idx = order[:n_val], order[n_val:]
    batches = PairBatches([src_ids[i] for i in fit_idx], [tgt_ids[i] for i in fit_idx], bos, eos,
                          batch_size=batch_size)
    val = PairBatches([src_ids[i] for i in val_idx], [tgt_ids[i] for i in val_idx], bos, eos,
                      batch_size=128, shuffle=False)

    net, optimizer = _build(model, sv, tv, embedding_dim, units, learning_rate, quick,
                            epochs * len(batches), hidden_dim=hidden_dim, num_layers=num_layers,
                            num_heads=num_heads, intermediate_dim=intermediate_dim,
                            dropout=dropout)
    net.compile(optimizer=optimizer,
                loss=tn_losses.SparseCategoricalCrossentropy(from_logits=True, ignore_index=0))
    history = net.fit(batches, epochs=epochs, validation_data=val, verbose=verbose)

    refs = [tokenize(t) for t in tgt_test]
    test_src = [sv.encode(tokenize(s)) for s in src_test]
    greedy = [tv.decode(ids) for ids in greedy_decode(net, test_src, bos, eos)]
    greedy_bleu = _bleu(greedy, refs)
    if beam_size > 1:
        beam = [tv.decode(ids) for ids in beam_search_all(net, test_src, bos, eos, beam_size,
                                                          verbose)]
        beam_bleu = _bleu(beam, refs)
    else:
        beam, beam_bleu = greedy, greedy_bleu
    copy_bleu = _bleu([tokenize(s) for s in src_test], refs)
    sacre, signature = sacre_bleu([detokenize(t) for t in beam], tgt_test)
    sacre_copy, _ = sacre_bleu(src_test, tgt_test)

    meta = {"source": sv.itos, "target": tv.itos, "task": TASK, "model": model, "seed": seed,
            "quick": quick}
    _, artifacts = save_run(out, net, "vocab.json", meta, history,
                            "Spanish→English encoder–decoder" if plot else None)
    examples = [f"{src_test[i]}  =>  {detokenize(beam[i])}  [ref: {tgt_test[i]}]"
                for i in range(min(3, len(src_test)))]
    extra = {"greedy_bleu": 100 * greedy_bleu, "beam_size": beam_size,
             "bleu_detail": repr(beam_bleu), "epochs": epochs,
             "train_pairs": len(fit_idx), "val_loss": float(history.history["val_loss"][-1]),
             "params": int(net.count_params()),
             "test_pairs": len(src_test), "src_vocab": len(sv), "tgt_vocab": len(tv),
             "examples": "\n    " + "\n    ".join(examples)}
    if sacre is not None:
        extra.update(sacrebleu=sacre, sacrebleu_copy=sacre_copy, sacrebleu_signature=signature)
    if model == "transformer":
        c = net.config
        extra["architecture"] = (
            f"{c['num_layers']} encoder + {c['num_layers']} decoder blocks, {c['num_heads']} "
            f"heads, hidden {c['hidden_dim']}, feed-forward {c['intermediate_dim']}, dropout "
            f"{c['dropout']:g}, {extra['params']:,} parameters")
    return TaskResult(TASK, _display_name(model), f"BLEU ×100 (beam {beam_size})",
                      100 * beam_bleu, "copy source", 100 * copy_bleu, extra, artifacts)


def _display_name(model):
    return {"attention": "lstm seq2seq + attention",
            "transformer": "transformer seq2seq"}.get(model, "lstm seq2seq")


def load(folder="runs/translate"):
    """``(model, source Vocab, target Vocab, meta)`` saved by :func:`train`."""
    folder = Path(folder)
    meta = read_json(folder / "vocab.json")
    model = load_model(folder / "model.tnz", custom_objects={
        "Seq2Seq": Seq2Seq, "TransformerSeq2Seq": TransformerSeq2Seq}, restore_rng=False)
    return model, Vocab(meta["source"]), Vocab(meta["target"]), meta


def beam_search_all(model, sources, bos, eos, beam_size, verbose=0):
    """:func:`beam_search` over every id list of ``sources``, with a progress display
    (:class:`tinynlp.progress.Progress`; ``verbose`` as ``fit``'s)."""
    bar = Progress(len(sources), verbose=verbose, unit="sentence",
                   title=f"beam search (beam {beam_size})")
    out = []
    for s in sources:
        out.append(beam_search(model, s, bos, eos, beam_size))
        bar.advance()
    bar.finish()
    return out


def _translate_ids(model, sv, tv, texts, beam_size, verbose=0):
    src = [sv.encode(tokenize(t)) for t in texts]
    bos, eos = tv[BOS], tv[EOS]
    if beam_size == 1:
        return [tv.decode(ids) for ids in greedy_decode(model, src, bos, eos)]
    return [tv.decode(ids) for ids in beam_search_all(model, src, bos, eos, beam_size, verbose)]


def translate(texts, folder="runs/translate", beam_size=4):
    """Translate Spanish sentences with the saved model (``beam_size=1``: greedy)."""
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(beam_size, bool) or not isinstance(beam_size, (int, np.integer)) \
            or beam_size < 1:
        raise ValueError(f"translate: beam_size must be a positive int, got {beam_size!r}")
    model, sv, tv, _ = load(folder)
    return [detokenize(t) for t in _translate_ids(model, sv, tv, list(texts), beam_size)]


def evaluate(folder="runs/translate", beam_size=4, verbose="auto") -> TaskResult:
    """Corpus BLEU of the saved model on the test verses (40 random ones in quick mode),
    beside copy-the-source (``verbose``: the beam search's progress, as ``fit``'s)."""
    model, sv, tv, meta = load(folder)
    _, (src_test, tgt_test) = _data(quick_mode(), meta.get("seed", 0))
    refs = [tokenize(t) for t in tgt_test]
    hyps = _translate_ids(model, sv, tv, src_test, beam_size, verbose)
    extra = {"test_pairs": len(src_test)}
    sacre, signature = sacre_bleu([detokenize(t) for t in hyps], tgt_test)
    if sacre is not None:
        extra.update(sacrebleu=sacre, sacrebleu_copy=sacre_bleu(src_test, tgt_test)[0],
                     sacrebleu_signature=signature)
    return TaskResult(TASK, _display_name(meta.get("model", "lstm")),
                      f"BLEU ×100 (beam {beam_size})", 100 * _bleu(hyps, refs), "copy source",
                      100 * _bleu([tokenize(s) for s in src_test], refs), extra)
