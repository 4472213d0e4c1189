"""Language models: a character-level RNN on Shakespeare (and a word-level one on Brown).

The model predicts the next token at every position::

    Embedding → LSTM / SimpleRNN (return_sequences, return_state) → Dense(vocab)   (logits)

Training reads fixed-length windows of the training text: every epoch draws
``train_tokens // seq_len`` windows at random offsets; the input is
``ids[s : s+T]`` and the target ``ids[s+1 : s+T+1]``, and the loss is the
sparse cross-entropy (from logits) averaged over all steps of all windows.

Perplexity on the test text is ``exp(mean −log p(token | everything before))``
with the state carried across the whole text: the text is cut into ``B``
contiguous streams, read in chunks of ``T`` steps, and each chunk starts from
the state where the previous one ended (``initial_state=`` of the recurrent
layer, which hands ``h0``/``c0`` to ``F.lstm`` / ``F.elman_rnn``).  The
baseline is a unigram model: token frequencies from the training text
(add-one smoothed), ignoring the context.

Generation (:func:`generate`) is *stateful*, too: the prompt is read once,
then each new token is sampled from ``softmax(logits / temperature)``
restricted to the ``top_k`` most likely tokens and fed back with the state
of the previous step — one time step of work per token, instead of re-reading
the whole growing context every time.

Models (``MODELS``): ``lstm`` and ``rnn`` (SimpleRNN) on Shakespeare
characters; ``word`` — an LSTM on Brown-corpus words (lowercased, the 5,000 most
frequent words, ``<eos>`` between sentences); ``gpt`` — a small decoder-only
Transformer (:class:`tinynlp.models.GPT`, pre-LN, tied embeddings) on the same
Shakespeare characters, trained on the same random windows.

A GPT has no state to carry: it sees at most ``sequence_length`` tokens.  Its
test perplexity (:func:`window_perplexity`) reads the same contiguous
streams as :func:`perplexity` and predicts the same tokens, each from a
window of up to ``sequence_length`` tokens before it that slides by half a
window (so every prediction but the first ones of a stream has at least half
a window of context).  It generates with its KV cache
(:meth:`~tinynlp.models.GPT.generate_stream`, cropping the context to the
last ``sequence_length`` tokens once it is full).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import layers as L
from .. import losses as tn_losses
from .. import optimizers as tn_optimizers
from .. import random as tn_random
from ..autograd import no_grad
from ..data.datasets import load_brown_text, load_shakespeare
from ..models import GPT, Model, load_model
from ..text import Vocab
from .common import TaskResult, check_model, quick_mode, read_json, save_run, start_run

__all__ = [
    "MODELS",
    "RNNLanguageModel",
    "WindowBatches",
    "banned_ids",
    "evaluate",
    "generate",
    "generate_stream",
    "load",
    "perplexity",
    "prompt_ids",
    "sample_next",
    "train",
    "unigram_perplexity",
    "window_perplexity",
]

MODELS = ("lstm", "rnn", "word", "gpt")
TASK = "language model"
EOS = "<eos>"


@L.register_layer
class RNNLanguageModel(Model):
    """Embedding → recurrent layer (``cell`` "lstm" or "rnn") → Dense(vocab_size) logits.

    ``model(ids)`` returns the logits ``(B, T, V)``;
    ``model(ids, initial_state=states, return_state=True)`` returns
    ``(logits, states)`` so that a text can be read (or written) piece by
    piece, each piece starting where the last one stopped.
    """

    def __init__(self, vocab_size=100, embedding_dim=32, units=256, cell="lstm", name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if cell not in ("lstm", "rnn"):
            raise ValueError(f"RNNLanguageModel: cell must be 'lstm' or 'rnn', got {cell!r}")
        self.config = {"vocab_size": vocab_size, "embedding_dim": embedding_dim, "units": units,
                           "cell": cell}
        self.embedding = L.Embedding(vocab_size, embedding_dim)
        rnn = L.LSTM if cell == "lstm" else L.SimpleRNN
        self.rnn = rnn(units, return_sequences=True, return_state=True)
        self.out = L.Dense(vocab_size)

    def call(self, x, training=False, initial_state=None, return_state=False):
        outputs = self.rnn(self.embedding(x), training=training, initial_state=initial_state)
        hs, states = outputs[0], list(outputs[1:])
        logits = self.out(hs)
        return (logits, states) if return_state else logits

    def get_config(self):
        return {"name": self.name, **self.config}


class WindowBatches:
    """Random fixed-length windows of a token-id stream, re-drawn every epoch.

    Each iteration yields ``len(self)`` batches ``(x, y)`` of shape
    ``(batch_size, seq_len)`` with ``y`` = ``x`` shifted by one token.
    Offsets come from ``tn.random`` (so a seeded run repeats exactly).
    """

    def __init__(self, ids, seq_len=100, batch_size=64, tokens_per_epoch=None):
        self.ids = np.asarray(ids, dtype=np.int64)
        if len(self.ids) < seq_len + 2:
            raise ValueError(f"WindowBatches: the text has {len(self.ids)} tokens, fewer than "
                             f"seq_len + 2 = {seq_len + 2}")
        self.seq_len, self.batch_size = int(seq_len), int(batch_size)
        tokens = len(self.ids) if tokens_per_epoch is None else int(tokens_per_epoch)
        self.n_batches = max(1, tokens // (self.seq_len * self.batch_size))

    def __len__(self):
        return self.n_batches

    def __iter__(self):
        rng = tn_random.get_rng()
        span = np.arange(self.seq_len + 1)
        for _ in range(self.n_batches):
            starts = rng.integers(0, len(self.ids) - self.seq_len - 1, size=self.batch_size)
            w = self.ids[starts[:, None] + span]
            yield w[:, :-1], w[:, 1:]


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def perplexity(model, ids, streams=32, seq_len=200):
    """Perplexity of ``model`` on the token stream ``ids`` with the state carried over.

    The stream is cut into ``streams`` contiguous pieces read side by side, in
    chunks of ``seq_len`` steps; each chunk starts from the previous chunk's
    final state.  Every token but the first of each piece is predicted.
    Returns ``(perplexity, mean_nll, n_predicted)``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    streams = max(1, min(int(streams), (len(ids) - 1) // 2))
    n = len(ids) // streams
    grid = ids[:n * streams].reshape(streams, n)
    total, count, states = 0.0, 0, None
    with no_grad():
        for start in range(0, n - 1, seq_len):
            stop = min(start + seq_len, n - 1)
            x, y = grid[:, start:stop], grid[:, start + 1:stop + 1]
            logits, states = model(x, initial_state=states, return_state=True)
            states = [s.detach() for s in states]
            logp = _log_softmax(logits.data.astype(np.float64))
            total -= np.take_along_axis(logp, y[..., None], axis=-1).sum()
            count += y.size
    mean = total / count
    return math.exp(mean), mean, count


def window_perplexity(model, ids, streams=32, stride=None, batch_size=64):
    """Perplexity of a Transformer LM (no carried state) on the token stream ``ids``.

    The stream is cut into the same ``streams`` pieces as :func:`perplexity`,
    and the same tokens are predicted (all but the first of each piece).  The
    targets are taken ``stride`` at a time (default: half of the model's
    ``sequence_length``); each chunk is predicted from one window ending just
    before its last target and reaching back up to ``sequence_length`` tokens,
    so a target has at least ``sequence_length − stride + 1`` tokens of context
    (fewer only at the start of a piece).  Returns ``(perplexity, mean_nll,
    n_predicted)``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    S = model.sequence_length
    stride = max(1, S // 2) if stride is None else int(stride)
    if not 1 <= stride <= S:
        raise ValueError(f"window_perplexity: stride must be in [1, {S}] (sequence_length), "
                         f"got {stride}")
    streams = max(1, min(int(streams), (len(ids) - 1) // 2))
    n = len(ids) // streams
    grid = ids[:n * streams].reshape(streams, n)
    total, count = 0.0, 0
    with no_grad():
        for a in range(1, n, stride):                 # targets a … b−1 of every stream
            b = min(a + stride, n)
            lo = max(0, b - 1 - S)
            x, y = grid[:, lo:b - 1], grid[:, a:b]
            for r in range(0, streams, batch_size):
                logits = model(x[r:r + batch_size]).data[:, a - 1 - lo:]
                logp = _log_softmax(logits.astype(np.float64))
                total -= np.take_along_axis(logp, y[r:r + batch_size, :, None], axis=-1).sum()
            count += y.size
    mean = total / count
    return math.exp(mean), mean, count


def _test_perplexity(net, ids, streams):
    if isinstance(net, GPT):
        return window_perplexity(net, ids, streams=streams)
    return perplexity(net, ids, streams=streams)


def _unigram_logp(train_ids, vocab_size):
    """log p(token) from training counts with add-one smoothing over the vocabulary."""
    counts = np.bincount(np.asarray(train_ids), minlength=vocab_size).astype(np.float64)
    return np.log((counts + 1.0) / (counts.sum() + vocab_size))


def unigram_perplexity(train_ids, test_ids, vocab_size, skip_first=1):
    """Perplexity of the unigram baseline on ``test_ids[skip_first:]``.

    ``p(w) = (count_train(w) + 1) / (N_train + V)`` whatever came before.
    """
    logp = _unigram_logp(train_ids, vocab_size)
    nll = -logp[np.asarray(test_ids)[skip_first:]]
    return math.exp(nll.mean())


def _predicted_positions(n_tokens, streams):
    """The token positions that :func:`perplexity` predicts (for a fair baseline)."""
    streams = max(1, min(int(streams), (n_tokens - 1) // 2))
    n = n_tokens // streams
    pos = np.arange(n * streams).reshape(streams, n)[:, 1:]
    return pos.reshape(-1)


def sample_next(logits, temperature=1.0, top_k=None, rng=None):
    """Draw the next token id from ``softmax(logits / temperature)`` over the ``top_k``
    most likely ids (all ids when ``top_k`` is None).

    ``top_k=1`` is greedy decoding: always the argmax, whatever ``rng``.
    Lower temperatures sharpen the distribution, higher ones flatten it.
    """
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    if not temperature > 0:
        raise ValueError(f"sample_next: temperature must be > 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer))
                              or top_k < 1):
        raise ValueError(f"sample_next: top_k must be None or a positive int, got {top_k!r}")
    if top_k == 1:
        return int(np.argmax(logits))
    z = logits / temperature
    if top_k is not None and top_k < len(z):
        keep = np.argpartition(-z, top_k - 1)[:top_k]
        masked = np.full_like(z, -np.inf)
        masked[keep] = z[keep]
        z = masked
    p = np.exp(z - z.max())
    p /= p.sum()
    rng = np.random.default_rng() if rng is None else rng
    return int(rng.choice(len(p), p=p))


# ---------------------------------------------------------------------------- data
def _char_data(quick):
    train_text, test_text = load_shakespeare()
    if quick:
        train_text, test_text = train_text[:30000], test_text[:3000]
    vocab = Vocab.build([list(train_text)])
    return vocab, vocab.encode(list(train_text)), vocab.encode(list(test_text))


def _word_stream(sentences):
    out = []
    for s in sentences:
        out.extend(s)
        out.append(EOS)
    return out


def _word_tokens(quick):
    train_sents, test_sents = load_brown_text(lower=True)
    if quick:
        train_sents, test_sents = train_sents[:1500], test_sents[:150]
    return _word_stream(train_sents), _word_stream(test_sents)


def _word_data(quick, vocab_size):
    train_tokens, test_tokens = _word_tokens(quick)
    if quick:
        vocab_size = min(vocab_size, 1000)
    vocab = Vocab.build([train_tokens], max_size=vocab_size, specials=["<pad>", "<unk>", EOS])
    return vocab, vocab.encode(train_tokens), vocab.encode(test_tokens)


def _encode_splits(level, vocab, quick):
    """(train_ids, test_ids) of the task's text under a saved vocabulary."""
    if level == "word":
        train_tokens, test_tokens = _word_tokens(quick)
        return vocab.encode(train_tokens), vocab.encode(test_tokens)
    train_text, test_text = load_shakespeare()
    if quick:
        train_text, test_text = train_text[:30000], test_text[:3000]
    return vocab.encode(list(train_text)), vocab.encode(list(test_text))


_DEFAULTS = {
    # many small steps learn faster than a few big ones for the same compute
    "lstm": {"seq_len": 64, "batch_size": 32, "embedding_dim": 32, "units": 256, "epochs": 4,
                 "tokens_per_epoch": 600_000},
    "rnn": {"seq_len": 64, "batch_size": 32, "embedding_dim": 32, "units": 256, "epochs": 4,
                "tokens_per_epoch": 600_000},
    "word": {"seq_len": 35, "batch_size": 32, "embedding_dim": 64, "units": 128, "epochs": 3,
                 "tokens_per_epoch": 300_000},
    # the char LSTM's data budget and windows; seq_len is also the GPT's context, units its
    # hidden size (the feed-forward layers are 4 × wider).  Tuned a little on the validation
    # loss: context 64 × batch 32 beat 128 × 16, 2 layers of 128 beat 4 of 96, and the
    # peak learning rate 0.005 ≈ 0.003 > 0.002.
    "gpt": {"seq_len": 64, "batch_size": 32, "units": 128, "num_layers": 2, "num_heads": 4,
            "dropout": 0.0, "epochs": 4, "tokens_per_epoch": 600_000},
}
_QUICK = {"epochs": 1, "tokens_per_epoch": 8 * 20 * 16, "seq_len": 20, "batch_size": 16,
          "embedding_dim": 8, "units": 32}


def _build(model, vocab_size, d, learning_rate, steps):
    """The network and its optimizer: an RNN LM with Adam (as before), or a GPT with AdamW,
    a linear warm-up over the first 5 % of the steps and a cosine decay to a tenth."""
    if model != "gpt":
        net = RNNLanguageModel(vocab_size, d["embedding_dim"], d["units"],
                               cell="rnn" if model == "rnn" else "lstm")
        return net, tn_optimizers.Adam(learning_rate or 0.003, clipnorm=5.0)
    net = GPT(vocab_size, d["seq_len"], d["num_layers"], d["num_heads"], d["units"],
              4 * d["units"], dropout=d["dropout"])
    warmup = max(1, steps // 20)
    schedules = tn_optimizers.schedules
    lr = schedules.LinearWarmup(
        schedules.CosineDecay(learning_rate or 0.005, max(1, steps - warmup), alpha=0.1), warmup)
    return net, tn_optimizers.AdamW(lr, weight_decay=0.01, clipnorm=1.0)


def train(model="lstm", epochs=None, seq_len=None, batch_size=None, embedding_dim=None,
          units=None, tokens_per_epoch=None, vocab_size=5000, learning_rate=None, seed=0,
          out="runs/lm", verbose="auto", plot=True, num_layers=None, num_heads=None,
          dropout=None) -> TaskResult:
    """Train a language model and report its test perplexity beside the unigram baseline.

    ``lstm`` / ``rnn`` / ``gpt``: characters of Shakespeare; ``word``: words of
    Brown (``vocab_size`` most frequent).  Each epoch reads ``tokens_per_epoch``
    tokens in random windows of ``seq_len`` (for ``gpt`` also its context
    length; ``units`` is its hidden size, ``num_layers`` / ``num_heads`` /
    ``dropout`` its blocks).  ``learning_rate``: default 0.003 (Adam) for the
    RNNs, 0.005 (the peak of AdamW's warm-up and cosine schedule) for ``gpt``.
    """
    quick = start_run("language_model", model, MODELS, seed)
    d = dict(_DEFAULTS[model])
    if quick:
        d.update(_QUICK)
        if model == "gpt":
            d.update(units=16, num_layers=2, num_heads=2)
    given = {"seq_len": seq_len, "batch_size": batch_size, "embedding_dim": embedding_dim,
             "units": units, "epochs": epochs, "tokens_per_epoch": tokens_per_epoch,
             "num_layers": num_layers, "num_heads": num_heads, "dropout": dropout}
    d.update({k: v for k, v in given.items() if v is not None})
    level = "word" if model == "word" else "char"
    vocab, train_ids, test_ids = (_word_data(quick, vocab_size) if level == "word"
                                  else _char_data(quick))
    n_val = max(len(train_ids) // 50, 2 * d["seq_len"] + 2)  # 2 % of the text: validation
    fit_ids, val_ids = train_ids[:-n_val], train_ids[-n_val:]

    batches = WindowBatches(fit_ids, d["seq_len"], d["batch_size"], d["tokens_per_epoch"])
    net, optimizer = _build(model, len(vocab), d, learning_rate, d["epochs"] * len(batches))
    net.compile(optimizer=optimizer,
                loss=tn_losses.SparseCategoricalCrossentropy(from_logits=True))
    val = np.asarray(val_ids[:(len(val_ids) - 1) // d["seq_len"] * d["seq_len"] + 1])
    vx = val[:-1].reshape(-1, d["seq_len"])
    vy = val[1:].reshape(-1, d["seq_len"])
    history = net.fit(batches, epochs=d["epochs"], validation_data=(vx, vy), verbose=verbose)

    streams = 4 if quick else 32
    ppl, nll, count = _test_perplexity(net, test_ids, streams)
    positions = _predicted_positions(len(test_ids), streams)
    base = math.exp(-_unigram_logp(train_ids, len(vocab))[np.asarray(test_ids)[positions]].mean())

    meta = {"itos": vocab.itos, "level": level, "task": TASK, "model": model,
            "streams": streams, "quick": quick}
    _, artifacts = save_run(out, net, "vocab.json", meta, history,
                            f"{level}-level language model ({model})" if plot else None)
    sample = _generate(net, vocab, level, "ROMEO:\n" if level == "char" else "the",
                       length=200 if level == "char" else 40, temperature=0.8, top_k=None,
                       seed=seed)
    extra = {"bits_per_token": nll / math.log(2), "data": "Shakespeare characters" if
             level == "char" else "Brown words", "vocab_size": len(vocab), "epochs": d["epochs"],
             "train_tokens_seen": d["epochs"] * len(batches) * d["seq_len"] * d["batch_size"],
             "test_tokens": count, "sample": sample,
             "val_loss": float(history.history["val_loss"][-1]),
             "params": int(net.count_params())}
    if model == "gpt":
        extra["architecture"] = (f"{d['num_layers']} layers, {d['num_heads']} heads, hidden "
                                 f"{d['units']}, context {d['seq_len']}")
    return TaskResult(TASK, _display_name(model), "perplexity", ppl, "unigram", base, extra,
                      artifacts)


def _display_name(model):
    return "word lstm" if model == "word" else f"char {model}"


def load(folder="runs/lm"):
    """``(model, vocab, meta)`` saved by :func:`train`."""
    folder = Path(folder)
    meta = read_json(folder / "vocab.json")
    vocab = Vocab(meta["itos"])
    model = load_model(folder / "model.tnz", custom_objects={"RNNLanguageModel":
                                                             RNNLanguageModel},
                       restore_rng=False)
    return model, vocab, meta


def evaluate(folder="runs/lm") -> TaskResult:
    """Test perplexity of the saved model (state carried over, or sliding windows for a
    GPT) beside the unigram baseline."""
    model, vocab, meta = load(folder)
    level = meta.get("level", "char")
    quick = quick_mode()
    train_ids, test_ids = _encode_splits(level, vocab, quick)
    streams = meta.get("streams", 32)
    ppl, nll, count = _test_perplexity(model, test_ids, streams)
    positions = _predicted_positions(len(test_ids), streams)
    base = math.exp(-_unigram_logp(train_ids, len(vocab))[np.asarray(test_ids)[positions]].mean())
    return TaskResult(TASK, _display_name(meta.get("model", "?")), "perplexity", ppl, "unigram",
                      base, {"bits_per_token": nll / math.log(2), "test_tokens": count})


def _tokens_of(prompt, level):
    if level == "char":
        return list(prompt)
    return prompt.lower().split()


def generate(prompt="", folder="runs/lm", length=300, temperature=0.8, top_k=None,
             seed=0) -> str:
    """Continue ``prompt`` by ``length`` sampled tokens (characters or words) with the
    model saved in ``folder``.

    RNNs: the prompt is read in one call; then every new token is drawn by
    :func:`sample_next` (``temperature``, ``top_k``; a NumPy generator seeded
    by ``seed``) and fed back one step at a time with the carried state.  A
    GPT samples with :meth:`~tinynlp.models.GPT.generate_stream` (its KV cache;
    the same ``temperature`` and ``top_k``, temperature 0 = greedy; its
    generator seeded by ``seed``).  ``<pad>`` (and, for words, ``<unk>``) is
    never written.  An empty prompt starts from a newline (characters) or the
    end of a sentence (words).  Returns the prompt followed by the generated text.
    """
    return "".join(generate_stream(prompt, folder, length, temperature, top_k, seed))


def generate_stream(prompt="", folder="runs/lm", length=300, temperature=0.8, top_k=None,
                    seed=0, model=None):
    """:func:`generate`'s text in pieces, as it is sampled: the prompt, then each new
    character (a word model's text comes in one piece at the end).  ``model``: if
    given, the saved model must be this one of ``MODELS`` (else a ValueError).  The
    arguments and the folder are checked at the call, before the first piece."""
    if not isinstance(prompt, str):
        raise TypeError(f"generate: prompt must be a str, got {type(prompt).__name__}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"generate: length must be a non-negative int, got {length!r}")
    if model is not None:
        check_model("generate", model, MODELS)
    net, vocab, meta = load(folder)
    saved = meta.get("model", "?")
    if model is not None and model != saved:
        raise ValueError(f"generate: {folder} holds a {saved!r} language model, not {model!r}")
    return _pieces(net, vocab, meta.get("level", "char"), prompt, length, temperature, top_k,
                   seed)


def banned_ids(vocab, level):
    """Ids a generator never writes: ``<pad>``; for a word model also ``<unk>``."""
    return [vocab.pad_id] + ([vocab.unk_id] if level == "word" else [])


def prompt_ids(vocab, level, prompt):
    """The ids a generator reads first: the prompt's, or for an empty prompt a newline
    (characters) or ``<eos>`` (words)."""
    return vocab.encode(_tokens_of(prompt, level) or (["\n"] if level == "char" else [EOS]))


def _generate(model, vocab, level, prompt, length, temperature, top_k, seed):
    return "".join(_pieces(model, vocab, level, prompt, length, temperature, top_k, seed))


def _pieces(model, vocab, level, prompt, length, temperature, top_k, seed):
    ids = np.array([prompt_ids(vocab, level, prompt)], dtype=np.int64)
    if isinstance(model, GPT):
        new = (int(t[0]) for t in model.generate_stream(
            ids, length, temperature, top_k, seed=seed,
            suppress_tokens=banned_ids(vocab, level)))
    else:
        new = _rnn_tokens(model, ids, banned_ids(vocab, level), length, temperature, top_k,
                          seed)
    yield prompt
    if level == "char":
        for t in new:
            yield vocab.itos[t]
        return
    out = [vocab.itos[t] for t in new]
    text = " ".join("\n" if w == EOS else w for w in out).replace(" \n ", "\n")
    yield (" " if prompt else "") + text.replace(" \n", "\n")


def _rnn_tokens(model, ids, banned, length, temperature, top_k, seed):
    """The ids an RNN LM samples after ``ids`` (1, T), one step at a time with its state."""
    rng = np.random.default_rng(seed)
    with no_grad():
        logits, states = model(ids, initial_state=None, return_state=True)
        for _ in range(length):
            last = logits.data[0, -1].astype(np.float64)
            last[banned] = -np.inf
            nxt = sample_next(last, temperature, top_k, rng)
            yield nxt
            logits, states = model(np.array([[nxt]], dtype=np.int64), initial_state=states,
                                   return_state=True)
