"""Serving the character / word language models of :mod:`tinynlp.tasks.language_model`.

A session keeps, for every row, the recurrent state (``h``, and ``c`` for
an LSTM) and the logits of its last step, stacked into ``(B, units)`` and
``(B, vocab)`` arrays.  A new row reads its prompt (rows with prompts of
equal length together) and its state is appended to the batch: rows join a
running session at any step.  Each step draws one token per row from its
own logits with its own generator and settings, then feeds all the new
tokens to the model at once, ``(B, 1)`` ids with the stacked state — one
batched time step for the whole batch.

The draws are those of :func:`tinynlp.tasks.language_model.generate`: the
same ``sample_next`` on the same float64 logits (``<pad>`` and, for words,
``<unk>`` never written), with ``np.random.default_rng(seed)`` per row, so a
seeded request writes what ``generate(prompt, seed=seed, ...)`` writes.
Beyond it: ``temperature = 0`` is greedy, and ``top_p`` filters the nucleus
(:func:`~tinynlp.serve.generation.nucleus_mask`) before the draw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..autograd import no_grad
from ..tasks import language_model as lm
from .generation import (
    GenerationRow,
    GenerationSession,
    GenerativeAdapter,
    SamplingParams,
    TextDecoder,
    nucleus_mask,
)

__all__ = ["CharDecoder", "RNNLanguageModelAdapter", "WordDecoder", "speeches_prompt"]


def speeches_prompt(messages):
    """A character model's chat prompt: each message as a speech, ``ROLE:\\n<content>\\n\\n``
    (the Shakespeare layout), then ``ASSISTANT:\\n``; the turn ends at a blank line."""
    text = "".join(f"{m['role'].upper()}:\n{m['content'].strip()}\n\n" for m in messages)
    return text + "ASSISTANT:\n", ("\n\n",)


class CharDecoder(TextDecoder):
    """Each id is one character."""

    def __init__(self, itos):
        self.itos = itos

    def push(self, token_id):
        return self.itos[token_id]


class WordDecoder(TextDecoder):
    """Words joined by spaces, ``<eos>`` written as a line break — the text that
    :func:`tinynlp.tasks.language_model.generate` returns after the prompt.

    That text is ``" ".join(words)`` with ``" \\n "`` then ``" \\n"`` replaced by
    ``"\\n"`` (and one space after a non-empty prompt).  Replacing left to right,
    the space before a line break always goes; the space after a line break goes
    when that line break was the centre of a ``" \\n "`` match: it is not the
    first word, and the word before it is not a line break that was itself a
    centre.  Each word's text is thus known when it arrives.
    """

    def __init__(self, itos, eos_id, after_prompt):
        self.itos, self.eos_id = itos, eos_id
        self.n = 0
        self.prev_newline = False
        self.prev_centre = False    # the previous word was a line break centring a match
        self.lead = " " if after_prompt else ""

    def push(self, token_id):
        newline = token_id == self.eos_id
        if newline:
            sep = ""
        elif self.prev_newline:
            sep = "" if self.prev_centre else " "
        else:
            sep = " " if self.n else self.lead
        if self.n == 0 and newline:
            sep = self.lead
        # is this line break the centre of a " \n " match? (needs a word before it)
        centre = newline and self.n >= 1 and not (self.prev_newline and self.prev_centre)
        self.n += 1
        self.prev_newline, self.prev_centre = newline, centre
        return sep + ("\n" if newline else self.itos[token_id])


class RNNLanguageModelSession(GenerationSession):
    """Rows of an :class:`~tinynlp.tasks.language_model.RNNLanguageModel` stepping together."""

    def __init__(self, adapter):
        self.a = adapter
        self.ids = []            # row ids, in batch order
        self.states = None       # [h (B, H), c (B, H)] (c for an LSTM only)
        self.logits = None       # (B, V) float64: the next-token logits of each row
        self.fed = None          # (B, 1) ids drawn but not yet read by the model
        self.rngs, self.params = [], []

    def __len__(self):
        return len(self.ids)

    def _forward(self, ids, states):
        with no_grad():
            logits, new = self.a.model(ids, initial_state=states, return_state=True)
        return logits.data[:, -1].astype(np.float64), [s.data for s in new]

    def _catch_up(self):
        """Read the tokens drawn at the last step (one batched time step)."""
        if self.fed is not None and self.ids:
            self.logits, self.states = self._forward(self.fed, self.states)
        self.fed = None

    def add(self, rows):
        self._catch_up()
        by_len = {}
        for rid, row in rows.items():
            by_len.setdefault(len(row.prompt_ids), []).append((rid, row))
        for group in by_len.values():
            ids = np.array([row.prompt_ids for _, row in group], dtype=np.int64)
            logits, states = self._forward(ids, None)
            self.logits = logits if self.logits is None else np.concatenate([self.logits,
                                                                              logits])
            self.states = states if self.states is None else [
                np.concatenate([a, b]) for a, b in zip(self.states, states)]
            for rid, row in group:
                self.ids.append(rid)
                self.params.append(row.params)
                self.rngs.append(np.random.default_rng(row.params.seed))

    def step(self):
        self._catch_up()
        banned = self.a.banned
        out = []
        for i, (p, rng) in enumerate(zip(self.params, self.rngs)):
            z = self.logits[i].copy()
            z[banned] = -np.inf
            out.append(self.a.sample(z, p, rng))
        self.fed = np.array(out, dtype=np.int64)[:, None]
        return dict(zip(self.ids, out))

    def remove(self, row_ids):
        gone = set(row_ids)
        keep = [i for i, rid in enumerate(self.ids) if rid not in gone]
        if len(keep) == len(self.ids):
            return
        self.ids = [self.ids[i] for i in keep]
        self.params = [self.params[i] for i in keep]
        self.rngs = [self.rngs[i] for i in keep]
        if not keep:
            self.states = self.logits = self.fed = None
            return
        idx = np.array(keep)
        self.states = [s[idx] for s in self.states]
        self.logits = self.logits[idx]
        if self.fed is not None:
            self.fed = self.fed[idx]


class RNNLanguageModelAdapter(GenerativeAdapter):
    """A folder written by ``tinynlp train lm`` (``model.tnz`` + ``vocab.json``)."""

    task = "language model"
    can_join = True

    def __init__(self, folder):
        self.folder = Path(folder)
        self.model, self.vocab, self.meta = lm.load(folder)
        self.level = self.meta.get("level", "char")
        if self.level not in ("char", "word"):
            raise ValueError(f"{folder}/vocab.json: level must be 'char' or 'word', got "
                             f"{self.level!r}")
        self.eos_word = self.vocab[lm.EOS] if self.level == "word" else None
        # never write padding; a word model does not write <unk> either (as generate())
        self.banned = [self.vocab.pad_id] + ([self.vocab.unk_id] if self.level == "word" else [])
        self.description = (f"{self.level}-level {self.model.config['cell']} language model, "
                            f"{len(self.vocab)} tokens")

    # ---- text <-> ids
    def encode(self, text):
        if self.level == "char":
            tokens = list(text) or ["\n"]
        else:
            tokens = text.lower().split() or [lm.EOS]
        return self.vocab.encode(tokens)

    def text_decoder(self, prompt, prompt_ids):
        if self.level == "char":
            return CharDecoder(self.vocab.itos)
        # generate() writes a space after a non-empty prompt
        return WordDecoder(self.vocab.itos, self.eos_word, after_prompt=bool(prompt))

    def chat_prompt(self, messages):
        """Characters: each message as a speech, ``ROLE:\\n<content>\\n\\n`` (the
        Shakespeare layout), then ``ASSISTANT:\\n``; the turn ends at a blank line.
        Words: the messages' sentences, each closed by ``<eos>``; the turn is one
        sentence (it ends at the next ``<eos>``, written as a line break)."""
        if self.level == "char":
            return speeches_prompt(messages)
        text = " ".join(f"{m['content']} {lm.EOS}" for m in messages if m["content"].strip())
        return text, ("\n",)

    # ---- sampling
    @staticmethod
    def sample(z, params, rng):
        """One id from the float64 logits ``z`` (banned ids already at −∞)."""
        if params.temperature == 0:
            return lm.sample_next(z, 1.0, 1, rng)     # greedy
        if params.top_p < 1.0:
            z = nucleus_mask(z, params.temperature, params.top_p)
        return lm.sample_next(z, params.temperature, params.top_k, rng)

    def open_session(self):
        return RNNLanguageModelSession(self)

    def warmup(self):
        s = self.open_session()
        s.add({0: GenerationRow(self.encode("a"), SamplingParams(seed=0)),
               1: GenerationRow(self.encode("ab"), SamplingParams(seed=0))})
        s.step()
        s.step()
        s.close()
