"""Pretraining the small GPT on the pretraining corpus (``tinynlp pretrain``).

    from tinynlp.pretrained.train import PretrainConfig, pretrain
    summary = pretrain(PretrainConfig(), out="runs/pretrain")        # one pass, resumable
    summary = pretrain(PretrainConfig.quick(), out="runs/pretrain-quick")   # seconds

What a run does:

1. the corpus' documents (``load_pretraining_corpus``, both splits) and a
   byte-level BPE tokenizer (``--tokenizer FILE``, or trained here as
   ``tools/train_bpe.py`` does and cached);
2. each split tokenized once into a cached, memory-mapped uint16 stream
   (:mod:`tinynlp.pretrained.data`);
3. a :class:`~tinynlp.models.GPT` trained on next-token prediction from
   random windows of the training stream drawn by a seeded generator, with
   AdamW (decay on the weight matrices only, not on biases, LayerNorm's γ/β
   or the embeddings), a linear warm-up then a cosine decay of the learning
   rate, and gradient clipping by the global norm;
4. every ``log_every`` steps a training record, every ``eval_every`` steps
   the validation loss and perplexity on fixed windows, every
   ``checkpoint_every`` steps a checkpoint; at the end the validation loss on
   the whole validation stream, the curve and a summary.

**Resuming.**  A checkpoint is the model with its optimizer state and
``tn.random``'s state (``model.save``), then ``state.json`` naming it with the
step, the batch generator's state, the partial training-loss sum and the log
so far (written after the model file, both atomically: a crash leaves the
previous pair intact).  Run the same command again and it continues from
the last checkpoint: the weights after N steps are bit-identical to those of
a run that was never interrupted (tested).

Files in ``out``::

    config.json             this run's settings (a resumed run must ask for the same)
    tokenizer.json          the BPE vocabulary
    log.jsonl               one JSON object per line (the records above)
    checkpoints/step-NNNNNN.tnz, checkpoints/state.json
    curve.png               loss, perplexity and learning rate (``tn.plot.training_log``)
    summary.json            parameters, tokens seen, wall time, load, final validation
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time

import numpy as np

from .. import losses, optimizers
from .. import plot as tn_plot
from .. import random as tn_random
from ..atomic import atomic_write, write_json_atomic
from ..autograd import no_grad
from ..data.corpus import load_pretraining_corpus
from ..embeddings.pretrained import default_cache_dir
from ..models import GPT, load_model
from ..progress import Progress, resolve_verbose
from ..text import BPETokenizer
from .data import (
    cached_token_stream,
    corpus_digest,
    cross_entropy,
    sample_batch,
    unigram_cross_entropy,
    validation_windows,
)
from .shipped import save_pretrained

__all__ = ["DIALOGUE_SPECIALS", "NO_DECAY", "PretrainConfig", "evaluate_loss", "pretrain"]

#: parameters left out of weight decay (substrings of their names)
NO_DECAY = ("bias", "gamma", "beta", "embeddings")
#: the special tokens of the shipped vocabulary (``tools/train_bpe.py``'s)
DIALOGUE_SPECIALS = ("<|endoftext|>", "<|user|>", "<|bot|>")


@dataclasses.dataclass
class PretrainConfig:
    """Every setting of a pretraining run (the defaults are the shipped ``tinygpt``'s)."""

    # data
    sources: tuple | None = None          # corpus sources (None: all of them)
    max_documents: int | None = None      # use only the first documents of each split
    tokenizer: str | None = None          # a BPETokenizer JSON; None: train one (cached)
    vocab_size: int = 4096
    min_frequency: int = 2
    # model
    sequence_length: int = 128
    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 192
    intermediate_dim: int | None = None   # None: 4 · hidden_dim
    dropout: float = 0.0
    # optimisation
    batch_size: int = 16
    epochs: float = 1.0                   # passes over the training stream (in expectation)
    steps: int | None = None              # overrides epochs
    learning_rate: float = 2e-3
    min_lr_ratio: float = 0.1             # the cosine ends at learning_rate · min_lr_ratio
    warmup_steps: int = 200
    weight_decay: float = 0.1
    beta_1: float = 0.9
    beta_2: float = 0.95
    epsilon: float = 1e-8
    clipnorm: float = 1.0                 # global gradient norm
    seed: int = 0
    # bookkeeping
    log_every: int = 20
    eval_every: int = 250
    eval_windows: int = 64                # validation windows of the periodic evaluations
    checkpoint_every: int = 250
    keep_checkpoints: int = 2

    @classmethod
    def quick(cls, **overrides) -> PretrainConfig:
        """A run of seconds for tests and CI (``--quick`` / ``TINYNLP_QUICK=1``): one small
        source, a 400-id vocabulary, a 2-layer GPT of width 32, 30 steps."""
        settings = {"sources": ("devils_dictionary",), "max_documents": 400,
                    "vocab_size": 400, "sequence_length": 32, "num_layers": 2, "num_heads": 2,
                    "hidden_dim": 32, "batch_size": 8, "steps": 30, "learning_rate": 3e-3,
                    "warmup_steps": 5, "log_every": 5, "eval_every": 10, "eval_windows": 8,
                    "checkpoint_every": 10}
        settings.update(overrides)
        return cls(**settings)

    def __post_init__(self):
        if self.sources is not None:
            self.sources = (self.sources,) if isinstance(self.sources, str) \
                else tuple(self.sources)
        positive = ("vocab_size", "min_frequency", "sequence_length", "num_layers", "num_heads",
                    "hidden_dim", "batch_size", "log_every", "eval_every", "eval_windows",
                    "checkpoint_every", "keep_checkpoints")
        for name in positive + ("max_documents", "intermediate_dim", "steps"):
            value = getattr(self, name)
            if value is None and name not in positive:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"PretrainConfig: {name} must be a positive integer, "
                                 f"got {value!r}")
        for name in ("learning_rate", "epochs", "clipnorm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PretrainConfig: {name} must be > 0, got "
                                 f"{getattr(self, name)!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"PretrainConfig: min_lr_ratio must be in [0, 1], got "
                             f"{self.min_lr_ratio!r}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) \
                or self.warmup_steps < 0:
            raise ValueError(f"PretrainConfig: warmup_steps must be an integer >= 0, got "
                             f"{self.warmup_steps!r}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sources"] = None if self.sources is None else list(self.sources)
        return d

    @classmethod
    def from_dict(cls, d) -> PretrainConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ValueError(f"PretrainConfig: unknown settings {unknown}")
        return cls(**d)

    @property
    def ffn_dim(self) -> int:
        return self.intermediate_dim or 4 * self.hidden_dim

    def total_steps(self, n_train_tokens: int) -> int:
        """``steps``, or ``epochs`` passes of (batch_size · sequence_length)-token batches."""
        if self.steps is not None:
            return self.steps
        per_step = self.batch_size * self.sequence_length
        return max(1, math.ceil(self.epochs * n_train_tokens / per_step))


# ---- pieces ------------------------------------------------------------------------------

def _documents(config, split, verbose):
    docs = load_pretraining_corpus(split, sources=config.sources, verbose=verbose)
    return docs if config.max_documents is None else docs[:config.max_documents]


def _tokenizer(config, train_docs, cache_dir, verbose):
    """The run's tokenizer: ``config.tokenizer``, or trained on the training documents as
    ``tools/train_bpe.py`` trains it (cached by vocabulary size and corpus)."""
    if config.tokenizer is not None:
        return BPETokenizer.load(config.tokenizer)
    key = corpus_digest(train_docs)[:16]
    path = os.path.join(cache_dir, f"bpe-{config.vocab_size}-{config.min_frequency}-{key}.json")
    if os.path.exists(path):
        return BPETokenizer.load(path)
    if verbose:
        print(f"training a {config.vocab_size}-id BPE tokenizer on {len(train_docs):,} "
              f"documents -> {path}", flush=True)
    tok = BPETokenizer.train(train_docs, config.vocab_size, special_tokens=DIALOGUE_SPECIALS,
                             min_frequency=config.min_frequency)
    tok.save(path)
    return tok


def _new_model(config, vocab_size, total_steps):
    tn_random.seed(config.seed)
    model = GPT(vocab_size, config.sequence_length, config.num_layers, config.num_heads,
                config.hidden_dim, config.ffn_dim, dropout=config.dropout)
    warmup = min(config.warmup_steps, total_steps - 1)
    decay = optimizers.schedules.CosineDecay(config.learning_rate, max(1, total_steps - warmup),
                                             alpha=config.min_lr_ratio)
    schedule = optimizers.schedules.LinearWarmup(decay, warmup) if warmup > 0 else decay
    opt = optimizers.AdamW(schedule, weight_decay=config.weight_decay, beta_1=config.beta_1,
                           beta_2=config.beta_2, epsilon=config.epsilon,
                           global_clipnorm=config.clipnorm)
    opt.exclude_from_weight_decay(var_names=list(NO_DECAY))
    model.compile(optimizer=opt, loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def evaluate_loss(model, x, y, batch_size=32) -> float:
    """Mean next-token cross-entropy (nats per token) of ``model`` on windows ``x``, ``y``."""
    total, count = 0.0, 0
    with no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(x[i:i + batch_size]).data
            nll = cross_entropy(logits, y[i:i + batch_size])
            total += float(nll.sum())
            count += nll.size
    return total / count


def _load1():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not on every platform
        return None


class _Run:
    """The mutable state of a run: where it is, what it logged, its clocks."""

    def __init__(self, out, config):
        self.out = out
        self.config = config
        self.ckpt_dir = os.path.join(out, "checkpoints")
        self.state_path = os.path.join(self.ckpt_dir, "state.json")
        self.log = []
        self.step = 0
        self.loss_sum, self.loss_count = 0.0, 0
        self.elapsed0 = self.cpu0 = 0.0      # clocks carried over from before a resume
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        self.mark = (self.t0, 0)             # (time, step) of the last training record

    def elapsed(self):
        return self.elapsed0 + time.perf_counter() - self.t0

    def cpu(self):
        return self.cpu0 + time.process_time() - self.c0

    def record(self, rec, verbose):
        """Append ``rec`` to log.jsonl; with ``verbose=2`` also print it as one line (with
        the live bar of ``verbose=1`` the bar shows the latest values instead)."""
        self.log.append(rec)
        text = "".join(json.dumps(r) + "\n" for r in self.log)
        atomic_write(os.path.join(self.out, "log.jsonl"), lambda f: f.write(text), mode="w")
        if verbose == 2:
            print("  ".join(f"{k} {_fmt(v)}" for k, v in rec.items()), flush=True)

    def checkpoint(self, model, rng):
        name = f"step-{self.step:06d}.tnz"
        model.save(os.path.join(self.ckpt_dir, name))
        write_json_atomic(self.state_path, {
            "checkpoint": name, "step": self.step, "batch_rng": rng.bit_generator.state,
            "loss_sum": self.loss_sum, "loss_count": self.loss_count,
            "elapsed_s": self.elapsed(), "cpu_s": self.cpu(), "log": self.log})
        kept = sorted(f for f in os.listdir(self.ckpt_dir)
                      if f.startswith("step-") and f.endswith(".tnz"))
        for old in kept[:-self.config.keep_checkpoints]:
            os.unlink(os.path.join(self.ckpt_dir, old))

    def restore(self):
        """(model, batch generator) from the last checkpoint."""
        with open(self.state_path, encoding="utf-8") as f:
            state = json.load(f)
        model = load_model(os.path.join(self.ckpt_dir, state["checkpoint"]))
        rng = np.random.default_rng()
        rng.bit_generator.state = state["batch_rng"]
        self.step = int(state["step"])
        self.loss_sum, self.loss_count = float(state["loss_sum"]), int(state["loss_count"])
        self.elapsed0, self.cpu0 = float(state["elapsed_s"]), float(state["cpu_s"])
        self.log = list(state["log"])
        self.mark = (time.perf_counter(), self.step)
        return model, rng


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _same_config(out, config):
    path = os.path.join(out, "config.json")
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    now = config.to_dict()
    diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if diff:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in diff)
        raise ValueError(f"pretrain: {out} holds a run with other settings ({changes}); "
                         "resume it with the same settings or use another --out folder")


# ---- the run -----------------------------------------------------------------------------

def pretrain(config=None, out="runs/pretrain", cache_dir=None, verbose="auto",
             stop_at_step=None) -> dict:
    """Train (or resume) the GPT of ``config`` into the folder ``out``; returns the summary.

    ``verbose`` (as ``fit``'s, :mod:`tinynlp.progress`): ``"auto"`` — a live bar
    over the steps on a terminal or in a notebook (1), else one line per
    training / validation record (2); 0 prints nothing.  ``True`` is ``"auto"``.

    ``cache_dir``: where tokenizers and token streams are cached (default
    ``$TINYNLP_CACHE/pretrain`` or ``~/.cache/tinynlp/pretrain``).  A folder
    that holds a checkpoint is resumed (same settings required).
    ``stop_at_step``: stop after that step without a checkpoint, as a crash
    would (for tests of resuming).  A finished run (its ``summary.json`` written)
    is not evaluated again: its summary is returned as it was.
    """
    config = config or PretrainConfig()
    verbose = resolve_verbose("auto" if verbose is True else verbose, what="pretrain: verbose")
    out = os.fspath(out)
    cache_dir = os.fspath(cache_dir or os.path.join(default_cache_dir(), "pretrain"))
    os.makedirs(out, exist_ok=True)
    _same_config(out, config)
    write_json_atomic(os.path.join(out, "config.json"), config.to_dict())

    train_docs = _documents(config, "train", verbose)
    val_docs = _documents(config, "validation", verbose)
    tok = _tokenizer(config, train_docs, cache_dir, verbose)
    tok.save(os.path.join(out, "tokenizer.json"))
    train = cached_token_stream(tok, train_docs, cache_dir, "train", verbose)
    val = cached_token_stream(tok, val_docs, cache_dir, "validation", verbose)
    T, B = config.sequence_length, config.batch_size
    total = config.total_steps(len(train))
    val_x, val_y = validation_windows(val.ids, T, config.eval_windows)

    run = _Run(out, config)
    summary_path = os.path.join(out, "summary.json")
    if os.path.exists(run.state_path) and os.path.exists(summary_path):
        with open(summary_path, encoding="utf-8") as f:
            summary = json.load(f)
        if summary.get("steps") == total:      # finished: read back, nothing is redone
            if verbose:
                print(f"{out} holds a finished run ({total:,} steps): its summary.json",
                      flush=True)
            return summary
    if os.path.exists(run.state_path):
        model, rng = run.restore()
        if verbose:
            print(f"resuming {out} at step {run.step:,} of {total:,}", flush=True)
    else:
        model = _new_model(config, tok.vocab_size, total)
        rng = np.random.default_rng(config.seed)
    if verbose and run.step == 0:
        print(f"pretraining: {len(train):,} training tokens ({train.n_documents:,} documents), "
              f"{len(val):,} validation tokens; {total:,} steps of {B}x{T} tokens", flush=True)

    bar = Progress(total - run.step, verbose=verbose, title="pretrain", unit="step") \
        if verbose == 1 and run.step < total else None
    first, smooth = run.step, None
    while run.step < total:
        x, y = sample_batch(train.ids, rng, B, T)
        batch_loss = model.train_on_batch(x, y)
        run.loss_sum += batch_loss
        run.loss_count += 1
        run.step += 1
        s = run.step
        smooth = batch_loss if smooth is None else 0.9 * smooth + 0.1 * batch_loss
        if s % config.log_every == 0 or s == total:
            now = time.perf_counter()
            rate = (s - run.mark[1]) * B * T / max(now - run.mark[0], 1e-9)
            run.mark = (now, s)
            loss = run.loss_sum / run.loss_count
            run.loss_sum, run.loss_count = 0.0, 0
            run.record({"step": s, "tokens": s * B * T, "loss": round(loss, 5),
                        "perplexity": round(math.exp(min(loss, 50.0)), 3),
                        "lr": model.optimizer.lr_at(s - 1), "elapsed_s": round(run.elapsed(), 2),
                        "cpu_s": round(run.cpu(), 2), "tokens_per_s": round(rate, 1),
                        "load1": _load1()}, verbose)
        if s % config.eval_every == 0 or s == total:
            v = evaluate_loss(model, val_x, val_y)
            run.record({"step": s, "tokens": s * B * T, "val_loss": round(v, 5),
                        "val_perplexity": round(math.exp(v), 3)}, verbose)
        if bar is not None:     # the loss smoothed over ~10 steps, the last validation loss
            bar.update(s - first, {"step": s, "loss": smooth, **_last_val(run.log)})
        if stop_at_step is not None and s >= stop_at_step and s < total:
            return {"stopped_at_step": s}
        if s % config.checkpoint_every == 0 or s == total:
            run.checkpoint(model, rng)
    if bar is not None:
        bar.finish()

    return _finish(run, model, tok, train, val, total)


def _last_val(log):
    """``{"val_loss": ...}`` of the latest validation record (for the live bar)."""
    for rec in reversed(log):
        if "val_loss" in rec:
            return {"val_loss": rec["val_loss"]}
    return {}


def _finish(run, model, tok, train, val, total):
    """The final evaluation on the whole validation stream, the curve and the summary."""
    config = run.config
    T, B = config.sequence_length, config.batch_size
    x, y = validation_windows(val.ids, T)
    val_loss = evaluate_loss(model, x, y)
    unigram = unigram_cross_entropy(train.ids, y.reshape(-1), tok.vocab_size)
    summary = {
        "parameters": int(sum(p.data.size for p in model.weights)),
        "steps": total, "tokens_seen": total * B * T,
        "train_tokens": len(train), "passes": round(total * B * T / len(train), 3),
        "validation_tokens": int(y.size),
        "val_loss": round(val_loss, 5), "val_perplexity": round(math.exp(val_loss), 3),
        "unigram_val_loss": round(unigram, 5),
        "unigram_val_perplexity": round(math.exp(unigram), 3),
        "wall_time_s": round(run.elapsed(), 1), "cpu_time_s": round(run.cpu(), 1),
        "tokens_per_s": round(total * B * T / max(run.elapsed(), 1e-9), 1),
        "load1_mean": _mean_load(run.log),
        "vocab_size": tok.vocab_size, "config": config.to_dict(),
    }
    write_json_atomic(os.path.join(run.out, "summary.json"), summary)
    tn_plot.training_log(run.log, path=os.path.join(run.out, "curve.png"), x="tokens",
                         title=f"GPT pretraining ({summary['parameters']:,} parameters)")
    return summary


def _mean_load(log):
    loads = [r["load1"] for r in log if r.get("load1") is not None]
    return round(sum(loads) / len(loads), 2) if loads else None


# ---- the shipped folder ---------------------------------------------------------------

def export(out, folder, dtype="float16", extra_info=None) -> str:
    """Write the finished run in ``out`` as a pretrained folder (weights as ``dtype``, the
    tokenizer, and the run's summary as ``info``): what ``tinygpt`` ships."""
    out = os.fspath(out)
    with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    with open(os.path.join(out, "checkpoints", "state.json"), encoding="utf-8") as f:
        state = json.load(f)
    model = load_model(os.path.join(out, "checkpoints", state["checkpoint"]), compile=False,
                       restore_rng=False)
    tok = BPETokenizer.load(os.path.join(out, "tokenizer.json"))
    info = {k: v for k, v in summary.items() if k != "config"}
    info["training_config"] = summary.get("config")
    info.update(extra_info or {})
    return save_pretrained(model, tok, folder, dtype=dtype, info=info)
