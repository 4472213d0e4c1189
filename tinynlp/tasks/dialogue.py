"""Dialogue: answer a line of conversation (the bundled chatterbot-corpus conversations).

Data: every (line, reply) pair of :func:`tinynlp.datasets.load_dialogue`
(1,045 train / 205 test); 10 % of the training conversations are held out
for early stopping.  Both models read the same byte-level BPE tokens (the
pretrained GPT's tokenizer): the last :data:`MAX_PROMPT` tokens of the line and
the first :data:`MAX_REPLY` of the reply.

Models (``MODELS``):

* ``tinygpt`` — the pretrained GPT (``tn.pretrained.load("tinygpt")``)
  fine-tuned on ``<|user|> line <|bot|> reply <|endoftext|>``, the loss on the
  reply's tokens and the final ``<|endoftext|>`` only (the line is context);
  a reply is generated after ``… <|bot|>`` and ends at ``<|endoftext|>``.
* ``seq2seq`` — the LSTM encoder–decoder of :mod:`tinynlp.tasks.translation`
  (:class:`~tinynlp.tasks.translation.Seq2Seq`, reused), trained from scratch:
  source = the line, target = the reply (ids shifted by one so that 0 pads;
  the decoder starts from ``<|bot|>`` and stops at ``<|endoftext|>``).

Metrics on the test pairs, the same definitions for both models:

* **reply perplexity** ``exp(Σ −log p(token) / N)`` over the N BPE tokens of the
  references' replies plus their closing ``<|endoftext|>``, each predicted from
  the line and the reply's earlier tokens: the same tokens for both models, so
  the figures compare (baseline: a unigram of the training replies' tokens,
  add-one smoothed);
* **BLEU ×100** of greedy replies against the reference reply
  (:func:`tinynlp.metrics.bleu.corpus_bleu` on lowercased word tokens);
* **distinct-1 / distinct-2** of the greedy replies' word tokens
  (:func:`tinynlp.metrics.distinct_n`);
* beside them, a chatterbot-style **retrieval** baseline: the reply of the
  training line sharing the most words (Jaccard) with the test line.

``tinynlp chat --model DIR`` talks with a saved model (:class:`Chatbot`).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from .. import losses as tn_losses
from .. import plot as tn_plot
from .. import random as tn_random
from ..autograd import no_grad
from ..callbacks import EarlyStopping
from ..data.batching import batch_indices
from ..data.datasets import load_dialogue
from ..metrics import distinct_n
from ..metrics.bleu import corpus_bleu
from ..models import load_model
from ..models.generation import make_generators, sample_next_token
from ..optimizers import Adam
from ..optimizers.schedules import CosineDecay, LinearWarmup
from ..pretrained import load as load_pretrained
from ..text import BPETokenizer, word_tokenize
from . import translation
from .common import TaskResult, out_dir, quick_mode, read_json, start_run, write_json_atomic
from .runs import write_run_info

__all__ = ["BOT", "DEFAULTS", "MAX_PROMPT", "MAX_REPLY", "MODELS", "USER", "Chatbot",
           "ReplyBatches", "context_ids", "encode_pair", "evaluate", "generate_replies",
           "gpt_replies", "interactive_lines", "load", "reply_nll", "retrieve", "run_chat",
           "seq2seq_reply", "special_ids", "text_scores", "train", "unigram_perplexity"]

MODELS = ("tinygpt", "seq2seq")
TASK = "dialogue"
USER, BOT = "<|user|>", "<|bot|>"
MAX_PROMPT, MAX_REPLY = 48, 48
META = "dialogue.json"
BPE_FILE = "bpe.json"
IGNORE = -1                     # target id of positions the GPT's loss leaves out


# ------------------------------------------------------------------ tokens
def special_ids(tok) -> tuple[int, int, int]:
    """``(user, bot, eos)`` ids of a tokenizer, or a clear error if it lacks them."""
    missing = [s for s in (USER, BOT, "<|endoftext|>") if s not in tok.special_tokens]
    if missing:
        raise ValueError(f"dialogue: the tokenizer lacks the special tokens {missing}; the "
                         f"dialogue models need <|user|>, <|bot|> and <|endoftext|>")
    return tok.special_tokens[USER], tok.special_tokens[BOT], tok.eos_id


def _encode(tok, text):
    return tok.encode(text, allowed_special="none")


def encode_pair(tok, prompt, reply, max_prompt=MAX_PROMPT, max_reply=MAX_REPLY):
    """``(line ids, reply ids)``: the last ``max_prompt`` tokens of the line, the first
    ``max_reply`` of the reply (no special tokens)."""
    return _encode(tok, prompt)[-max_prompt:], _encode(tok, reply)[:max_reply]


def context_ids(tok, turns, max_tokens):
    """``<|user|> t₁ <|bot|> t₂ … <|user|> t_k <|bot|>`` for the turns of a conversation
    whose last turn is the user's (turns alternate backwards from it), cut to at most
    ``max_tokens`` ids: earlier turns are dropped first, then the start of the last."""
    user, bot, _ = special_ids(tok)
    turns = list(turns)
    if not turns:
        raise ValueError("context_ids: expected at least one turn (the user's line)")
    out = [bot]
    for k, text in enumerate(reversed(turns)):
        piece = [user if k % 2 == 0 else bot] + _encode(tok, text)
        if len(piece) + len(out) > max_tokens:
            if k == 0:
                out = [user] + piece[-(max_tokens - 2):] + out if max_tokens > 2 else out
            break
        out = piece + out
    return out


class ReplyBatches:
    """Language-model batches ``(x, y)`` for the GPT, bucketed by length.

    Each example is ``c = <|user|> line <|bot|>`` followed by ``r = reply
    <|endoftext|>``; ``x = (c + r)[:-1]``, ``y = (c + r)[1:]`` with the targets
    of the context positions set to −1 (left out of the loss), so the loss is
    on ``r`` only.  Padding (at the end): x with ``<|endoftext|>``, y with −1.
    """

    def __init__(self, tok, prompts, replies, batch_size=16, shuffle=True, bucket_size=20):
        user, bot, eos = special_ids(tok)
        self.x, self.y = [], []
        for p, r in zip(prompts, replies):
            ctx = [user] + p + [bot]
            seq = ctx + r + [eos]
            self.x.append(seq[:-1])
            self.y.append([IGNORE] * (len(ctx) - 1) + r + [eos])
        self.pad = eos
        self.batch_size, self.shuffle, self.bucket_size = batch_size, shuffle, bucket_size
        self.lengths = np.array([len(s) for s in self.x])

    def __len__(self):
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        rng = tn_random.get_rng() if self.shuffle else None
        for idx in batch_indices(self.lengths, self.batch_size, self.shuffle, self.bucket_size,
                                 rng=rng):
            T = int(self.lengths[idx].max())
            x = np.full((len(idx), T), self.pad, np.int64)
            y = np.full((len(idx), T), IGNORE, np.int64)
            for row, i in enumerate(idx):
                x[row, :len(self.x[i])] = self.x[i]
                y[row, :len(self.y[i])] = self.y[i]
            yield x, y


# ------------------------------------------------------------------ data
def _split(seed, quick):
    """``(train, validation, test)`` conversations: 10 % of the training conversations
    (a seeded draw) held out for early stopping; fewer of each in quick mode."""
    train, test = load_dialogue(as_pairs=False)
    order = np.random.default_rng(seed).permutation(len(train))
    n_val = max(1, len(train) // 10)
    val, fit = [train[i] for i in order[:n_val]], [train[i] for i in order[n_val:]]
    if quick:
        fit, val, test = fit[:80], val[:10], test[:15]
    return fit, val, test


def _pairs(conversations):
    prompts = [c[i] for c in conversations for i in range(len(c) - 1)]
    replies = [c[i + 1] for c in conversations for i in range(len(c) - 1)]
    return prompts, replies


def _encode_pairs(tok, prompts, replies, max_prompt, max_reply):
    enc = [encode_pair(tok, p, r, max_prompt, max_reply) for p, r in zip(prompts, replies)]
    return [p for p, _ in enc], [r for _, r in enc]


def _shift(seqs):
    """BPE ids → seq2seq ids (+1: id 0 is the seq2seq models' padding)."""
    return [[i + 1 for i in s] for s in seqs]


# ------------------------------------------------------------------ scoring
def _token_nll(logits, targets, ignore):
    """(Σ −log softmax(z)[t], count) over the positions whose target t is not ``ignore``."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    keep = targets != ignore
    picked = np.take_along_axis(logp, np.where(keep, targets, 0)[..., None], axis=-1)[..., 0]
    return float(-(picked * keep).sum()), int(keep.sum())


def reply_nll(kind, model, tok, prompts, replies):
    """``(total −log p, tokens)`` of the replies (+ their ``<|endoftext|>``) given the lines:
    ``prompts`` / ``replies`` as BPE id lists (:func:`encode_pair`)."""
    total, count = 0.0, 0
    with no_grad():
        if kind == "tinygpt":
            for x, y in ReplyBatches(tok, prompts, replies, 32, shuffle=False):
                nll, n = _token_nll(model(x).data, y, IGNORE)
                total, count = total + nll, count + n
        else:
            _, bot, eos = special_ids(tok)
            batches = translation.PairBatches(_shift(prompts), _shift(replies), bot + 1, eos + 1,
                                              batch_size=32, shuffle=False)
            for (src, tin), tout in batches:
                nll, n = _token_nll(model([src, tin]).data, tout, 0)
                total, count = total + nll, count + n
    return total, count


def unigram_perplexity(train_replies, test_replies, vocab_size, eos):
    """Perplexity of the test replies' tokens (+ eos each) under the add-one smoothed
    unigram of the training replies' tokens."""
    counts = Counter(t for r in train_replies for t in r + [eos])
    n = sum(counts.values())
    tokens = [t for r in test_replies for t in r + [eos]]
    nll = -sum(math.log((counts[t] + 1) / (n + vocab_size)) for t in tokens)
    return math.exp(nll / len(tokens))


def _words(text):
    return word_tokenize(text, lower=True)


def text_scores(hypotheses, references) -> dict:
    """BLEU ×100 of the replies against the references and distinct-1/2 of the replies
    (lowercased word tokens)."""
    hyp = [_words(h) for h in hypotheses]
    ref = [_words(r) for r in references]
    bleu = corpus_bleu([[r] for r in ref], hyp)
    return {"bleu": 100 * float(bleu), "bleu_detail": repr(bleu),
            "distinct_1": distinct_n(hyp, 1), "distinct_2": distinct_n(hyp, 2),
            "mean_words": float(np.mean([len(h) for h in hyp])) if hyp else 0.0}


def retrieve(train_prompts, train_replies, line):
    """The reply of the training line sharing the most words with ``line`` (Jaccard of
    lowercased word sets; ties: the first) — a chatterbot-style retrieval baseline."""
    query = set(_words(line))
    best, best_score = 0, -1.0
    for i, p in enumerate(train_prompts):
        words = set(_words(p))
        score = len(query & words) / max(1, len(query | words))
        if score > best_score:
            best, best_score = i, score
    return train_replies[best]


# ------------------------------------------------------------------ generation
def _cut(tok, ids):
    """The reply text of generated ids: up to the first special token."""
    stop = set(tok.special_tokens.values())
    out = []
    for i in ids:
        if int(i) in stop:
            break
        out.append(int(i))
    return tok.decode(out).strip()


def gpt_replies(gpt, tok, contexts, max_new_tokens=MAX_REPLY, batch=32, **sampling):
    """Replies of the GPT after each context (id lists ending in ``<|bot|>``); greedy
    unless ``sampling`` (temperature, top_k, top_p, seed) says otherwise."""
    sampling.setdefault("temperature", 0.0)
    eos = tok.eos_id
    out = []
    for start in range(0, len(contexts), batch):
        chunk = [np.asarray(c, dtype=np.int64) for c in contexts[start:start + batch]]
        gen = gpt.generate(chunk, max_new_tokens, eos_token_id=eos, **sampling)
        out += [_cut(tok, g[len(c):]) for g, c in zip(gen, chunk)]
    return out


def seq2seq_reply(model, tok, src, max_new_tokens=MAX_REPLY, temperature=0.0, top_k=None,
                  top_p=None, seed=None):
    """One reply of the seq2seq model to a line (BPE ids), sampled token by token from
    the decoder (greedy at temperature 0), never ``<pad>`` or ``<|bot|>``."""
    _, bot, eos = special_ids(tok)
    bos, end = bot + 1, eos + 1
    gens = make_generators(seed, 1)
    out = []
    with no_grad():
        states, memory, memory_mask = model.encode(np.array([_shift([src])[0] or [end]]))
        step = np.array([[bos]], np.int64)
        for _ in range(max_new_tokens):
            logits, states = model.decode(step, states, memory, memory_mask)
            z = logits.data[:, -1].astype(np.float64)
            z[:, [0, bos]] = -np.inf
            nxt = int(sample_next_token(z, temperature, top_k, top_p, gens)[0])
            if nxt == end:
                break
            out.append(nxt - 1)
            step = np.array([[nxt]], np.int64)
    return _cut(tok, out)


def generate_replies(kind, model, tok, prompts, max_new_tokens=MAX_REPLY):
    """Greedy replies to lines given as BPE id lists."""
    user, bot, _ = special_ids(tok)
    if kind == "tinygpt":
        return gpt_replies(model, tok, [[user] + p + [bot] for p in prompts], max_new_tokens)
    _, _, eos = special_ids(tok)
    outs = translation.greedy_decode(model, _shift(prompts), bot + 1, eos + 1,
                                     max_len=max_new_tokens)
    return [_cut(tok, [i - 1 for i in ids]) for ids in outs]


# ------------------------------------------------------------------ training
def _schedule(learning_rate, steps):
    return LinearWarmup(CosineDecay(learning_rate, max(1, steps)), max(1, steps // 10))


def _fit_gpt(gpt, tok, fit, val, epochs, learning_rate, batch_size, verbose):
    batches = ReplyBatches(tok, *fit, batch_size=batch_size)
    val_batches = ReplyBatches(tok, *val, batch_size=2 * batch_size, shuffle=False)
    gpt.compile(optimizer=Adam(_schedule(learning_rate, epochs * len(batches)), clipnorm=1.0),
                loss=tn_losses.SparseCategoricalCrossentropy(from_logits=True,
                                                             ignore_index=IGNORE))
    stop = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    return gpt.fit(batches, epochs=epochs, validation_data=val_batches, verbose=verbose,
                   callbacks=[stop])


def _fit_seq2seq(tok, fit, val, epochs, learning_rate, batch_size, verbose, quick):
    _, bot, eos = special_ids(tok)
    size = tok.vocab_size + 1
    net = translation.Seq2Seq(size, size, 16 if quick else 128, 32 if quick else 256)
    batches = translation.PairBatches(*map(_shift, fit), bot + 1, eos + 1, batch_size=batch_size)
    val_batches = translation.PairBatches(*map(_shift, val), bot + 1, eos + 1,
                                          batch_size=2 * batch_size, shuffle=False)
    net.compile(optimizer=Adam(learning_rate, clipnorm=5.0),
                loss=tn_losses.SparseCategoricalCrossentropy(from_logits=True, ignore_index=0))
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = net.fit(batches, epochs=epochs, validation_data=val_batches, verbose=verbose,
                      callbacks=[stop])
    return net, history


#: per model: (epochs, learning rate) when train() is not told
DEFAULTS = {"tinygpt": (6, 1e-4), "seq2seq": (30, 2e-3)}


def train(model="tinygpt", epochs=None, batch_size=16, learning_rate=None, seed=0,
          out="runs/dialogue", verbose=1, plot=True, gpt=None, samples=8) -> TaskResult:
    """Train a dialogue model and score it on the test pairs (module docstring).

    ``gpt``: the pretrained GPT to fine-tune (``tinygpt``) or whose tokenizer to use
    (``seq2seq``); None loads ``tn.pretrained.load("tinygpt")``.  Early stopping on
    the validation loss (the best epoch's weights are kept).  ``samples``: how many
    test lines (the first ones) get their reply listed in ``extra["samples"]``.
    """
    quick = start_run(TASK, model, MODELS, seed)
    default_epochs, default_lr = DEFAULTS[model]
    epochs = (1 if quick else default_epochs) if epochs is None else epochs
    learning_rate = default_lr if learning_rate is None else learning_rate
    body = load_pretrained("tinygpt") if gpt is None else gpt
    tok = body.tokenizer
    _, _, eos = special_ids(tok)
    max_prompt, max_reply = (16, 16) if quick else (MAX_PROMPT, MAX_REPLY)
    if model == "tinygpt":    # <|user|> line <|bot|> reply <|endoftext|> must fit the GPT
        max_prompt = min(max_prompt, body.sequence_length - max_reply - 3)
    fit_c, val_c, test_c = _split(seed, quick)
    fit, val, test = (_pairs(c) for c in (fit_c, val_c, test_c))
    fit_ids, val_ids, test_ids = (_encode_pairs(tok, *pr, max_prompt, max_reply)
                                  for pr in (fit, val, test))
    if model == "tinygpt":
        net = body
        history = _fit_gpt(net, tok, fit_ids, val_ids, epochs, learning_rate, batch_size,
                           verbose)
    else:
        net, history = _fit_seq2seq(tok, fit_ids, val_ids, epochs, learning_rate, batch_size,
                                    verbose, quick)
    nll, count = reply_nll(model, net, tok, *test_ids)
    replies = generate_replies(model, net, tok, test_ids[0], max_reply)
    scores = text_scores(replies, test[1])
    retrieved = [retrieve(fit[0], fit[1], line) for line in test[0]]
    base = text_scores(retrieved, test[1])

    folder = out_dir(out)
    net.save(folder / "model.tnz")
    tok.save(folder / BPE_FILE)
    meta = {"task": TASK, "model": model, "bpe": BPE_FILE, "max_prompt_tokens": max_prompt,
            "max_reply_tokens": max_reply, "seed": seed, "quick": quick}
    write_json_atomic(folder / META, meta)
    write_run_info(folder, TASK, model)
    artifacts = {"model": str(folder / "model.tnz"), "bpe": str(folder / BPE_FILE),
                 "meta": str(folder / META)}
    if plot:
        tn_plot.history(history, path=folder / "learning_curves.png",
                        title=f"dialogue ({model}) on chatterbot-corpus")
        artifacts["plot"] = str(folder / "learning_curves.png")
    extra = {**{k: v for k, v in scores.items()},
             "retrieval_bleu": base["bleu"], "retrieval_distinct_1": base["distinct_1"],
             "retrieval_distinct_2": base["distinct_2"],
             "epochs": len(history.history.get("loss", [])), "train_pairs": len(fit[0]),
             "validation_pairs": len(val[0]), "test_pairs": len(test[0]), "test_tokens": count,
             "samples": [{"line": test[0][i], "reference": test[1][i], "reply": replies[i],
                          "retrieval": retrieved[i]} for i in range(min(samples, len(replies)))]}
    extra["examples"] = "\n    " + "\n    ".join(
        f"{s['line']!r} -> {s['reply']!r}" for s in extra["samples"][:3])
    return TaskResult(TASK, "tinygpt (fine-tuned)" if model == "tinygpt" else "seq2seq lstm",
                      "reply perplexity (per BPE token)", math.exp(nll / count),
                      "unigram of training replies",
                      unigram_perplexity(fit_ids[1], test_ids[1], tok.vocab_size, eos),
                      extra, artifacts)


# ------------------------------------------------------------------ a saved model
def load(folder="runs/dialogue"):
    """``(model, tokenizer, meta)`` saved by :func:`train`."""
    folder = Path(folder)
    meta = read_json(folder / META)
    tok = BPETokenizer.load(folder / meta["bpe"])
    model = load_model(folder / "model.tnz", compile=False, restore_rng=False)
    return model, tok, meta


def evaluate(folder="runs/dialogue") -> TaskResult:
    """Reply perplexity (and BLEU, distinct-n in ``extra``) of a saved model on the test
    pairs."""
    model, tok, meta = load(folder)
    kind = meta["model"]
    _, _, test_c = _split(meta.get("seed", 0), quick_mode())
    test = _pairs(test_c)
    prompts, replies = _encode_pairs(tok, *test, meta["max_prompt_tokens"],
                                     meta["max_reply_tokens"])
    nll, count = reply_nll(kind, model, tok, prompts, replies)
    scores = text_scores(generate_replies(kind, model, tok, prompts,
                                          meta["max_reply_tokens"]), test[1])
    return TaskResult(TASK, kind, "reply perplexity (per BPE token)", math.exp(nll / count),
                      "none", float("nan"), {**scores, "test_pairs": len(prompts)})


class Chatbot:
    """A saved dialogue model that answers a conversation.

    ``bot.reply(turns)``: the reply to the last turn (the user's), sampled with
    ``temperature`` / ``top_k`` / ``top_p`` (temperature 0: greedy).  The GPT reads
    the turns as ``<|user|> … <|bot|> … <|user|> … <|bot|>`` (as many as fit in its
    context beside the reply); the seq2seq model reads only the last turn.
    """

    def __init__(self, folder):
        self.model, self.tokenizer, self.meta = load(folder)
        self.kind = self.meta["model"]
        special_ids(self.tokenizer)

    def reply(self, turns, temperature=0.8, top_k=40, top_p=None, max_new_tokens=None,
              seed=None) -> str:
        if isinstance(turns, str):
            turns = [turns]
        max_new = max_new_tokens or self.meta["max_reply_tokens"]
        if self.kind == "tinygpt":
            room = self.model.sequence_length - max_new
            ctx = context_ids(self.tokenizer, turns, max(8, room))
            (reply,) = gpt_replies(self.model, self.tokenizer, [ctx], max_new,
                                   temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
            return reply
        src = _encode(self.tokenizer, turns[-1])[-self.meta["max_prompt_tokens"]:]
        return seq2seq_reply(self.model, self.tokenizer, src, max_new, temperature, top_k,
                             top_p, seed)


def run_chat(folder, lines, write=print, window=2, **sampling) -> int:
    """Talk with the model in ``folder``: one reply (written as ``bot: …``) per non-empty
    line of ``lines``; the last ``window`` turns (user and bot lines) before each line are
    its context.  ``/reset`` forgets them, ``/quit`` ends.  Returns the number of replies.
    ``sampling``: temperature, top_k, top_p, seed, max_new_tokens (:meth:`Chatbot.reply`);
    a seed advances by one per reply, so a piped conversation is reproducible."""
    bot = Chatbot(folder)
    history, n = [], 0
    seed = sampling.pop("seed", None)
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/reset":
            history = []
            write("(conversation reset)")
            continue
        context = (history[-window:] if window > 0 else []) + [line]
        reply = bot.reply(context, seed=None if seed is None else seed + n, **sampling)
        write(f"bot: {reply}")
        history += [line, reply]
        n += 1
    return n


def interactive_lines(prompt="you: "):
    """Lines typed at a terminal (``input``), until end of file (Ctrl-D) or Ctrl-C."""
    while True:
        try:
            yield input(prompt)
        except (EOFError, KeyboardInterrupt):
            print()
            return
