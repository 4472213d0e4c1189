"""Serving a GPT (:class:`tinynlp.models.GPT`) over any text codec.

The adapter does not care how text becomes ids: a :class:`TextCodec` does
that — :class:`CharCodec` for the character GPT of ``tinynlp train lm --model
gpt`` (a :class:`~tinynlp.text.Vocab` of characters), :class:`BPECodec` for a
GPT with a byte-level :class:`~tinynlp.text.BPETokenizer` (a pretrained or
fine-tuned model, whose tokenizer has an ``eos_id``).  A codec gives
``encode(text)`` (never empty), a fresh incremental decoder per row (ids →
text, holding back an incomplete UTF-8 character), the end-of-text id (or
None) and the ids never to write.

A session is one call of :meth:`~tinynlp.models.GPT.generate_stream` for the
rows that arrive together: their prompts (left-padded by the model), one seed
per row (a fresh random one for an unseeded row), and ``max(max_tokens)``
steps; each step yields one token per row.  The stream takes temperature,
top-k and top-p once for the whole batch, so they are the session key, and a
running stream cannot take new rows (``can_join = False``).  A row that
finishes (its ``max_tokens``, a stop string, the end-of-text token) is only
forgotten; the stream is closed when no row is left.

What a request gets is what :meth:`GPT.generate` writes for the same prompt
ids, seed, temperature (0: greedy), ``top_k`` and ``top_p``: the same
function draws the tokens.  A prompt plus ``max_tokens`` may pass the
model's ``sequence_length``: the context is then cropped to the last
``sequence_length`` tokens as ``generate`` crops it (``max_context`` is None).
"""

from __future__ import annotations

import codecs
import secrets
from abc import ABC, abstractmethod
from pathlib import Path

from ..models import GPT
from ..tasks import language_model as lm
from .generation import (
    GenerationRow,
    GenerationSession,
    GenerativeAdapter,
    SamplingParams,
    TextDecoder,
)
from .rnn_lm import CharDecoder, speeches_prompt

__all__ = ["BPECodec", "CharCodec", "GPTAdapter", "GPTSession", "TextCodec", "Utf8Decoder",
           "load_char_gpt"]


class TextCodec(ABC):
    """Text ↔ token ids for a generator (see the module docstring)."""

    #: the id that ends a text (finish reason "stop"), or None
    eos_id: int | None = None
    #: ids never written (e.g. padding)
    suppress: tuple = ()

    @abstractmethod
    def encode(self, text: str) -> list:
        """The prompt's ids; never empty (a codec-specific start for "")."""

    @abstractmethod
    def decoder(self) -> TextDecoder:
        """A fresh incremental decoder for one row."""

    def chat_prompt(self, messages: list) -> tuple:
        """``(prompt_text, stop_strings)`` for OpenAI chat ``messages``."""
        return speeches_prompt(messages)


class CharCodec(TextCodec):
    """One character per id (the language-model task's :class:`~tinynlp.text.Vocab`):
    the same prompt ids and banned ids as :func:`tinynlp.tasks.language_model.generate`."""

    def __init__(self, vocab):
        self.vocab = vocab
        self.suppress = tuple(lm.banned_ids(vocab, "char"))

    def encode(self, text):
        return lm.prompt_ids(self.vocab, "char", text)

    def decoder(self):
        return CharDecoder(self.vocab.itos)


class Utf8Decoder(TextDecoder):
    """Token bytes → text, holding back the bytes of a character not yet complete (a
    byte-level BPE token may end in the middle of one); invalid bytes become U+FFFD as
    in ``BPETokenizer.decode``."""

    def __init__(self, id_to_bytes):
        self.id_to_bytes = id_to_bytes
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id):
        return self.utf8.decode(self.id_to_bytes(int(token_id)))

    def flush(self):
        return self.utf8.decode(b"", final=True)


class BPECodec(TextCodec):
    """A byte-level :class:`~tinynlp.text.BPETokenizer`; an empty prompt starts from
    its end-of-text token (as GPT-2 samples unconditionally), or a line break when it
    has none.  Chat: the messages as ``Role: text`` lines, then ``Assistant:``; the
    turn ends at the next line break (pass ``chat_template`` — ``messages → (prompt,
    stop strings)`` — for a model fine-tuned on another layout)."""

    def __init__(self, tokenizer, chat_template=None):
        self.tokenizer = tokenizer
        self.eos_id = tokenizer.eos_id
        self.chat_template = chat_template

    def encode(self, text):
        ids = self.tokenizer.encode(text)
        if ids:
            return ids
        return [self.eos_id] if self.eos_id is not None else self.tokenizer.encode("\n")

    def decoder(self):
        return Utf8Decoder(self.tokenizer.id_to_bytes)

    def chat_prompt(self, messages):
        if self.chat_template is not None:
            return self.chat_template(messages)
        text = "".join(f"{m['role'].capitalize()}: {m['content'].strip()}\n" for m in messages)
        return text + "Assistant:", ("\n",)


class GPTSession(GenerationSession):
    """The rows of one :meth:`GPT.generate_stream` call (see the module docstring)."""

    def __init__(self, adapter):
        self.a = adapter
        self.rows = []          # row ids, in batch order
        self.alive = set()
        self.stream = None

    def add(self, rows):
        if self.stream is not None:
            raise RuntimeError("GPTSession.add: a running generate_stream cannot take new rows "
                               "(can_join is False)")
        self.rows = list(rows)
        self.alive = set(self.rows)
        first = next(iter(rows.values())).params
        seeds = [r.params.seed if r.params.seed is not None else secrets.randbits(63)
                 for r in rows.values()]
        self.stream = self.a.model.generate_stream(
            [list(r.prompt_ids) for r in rows.values()],
            max(r.params.max_tokens for r in rows.values()),
            temperature=first.temperature, top_k=first.top_k,
            top_p=first.top_p if first.top_p < 1.0 else None, seed=seeds,
            eos_token_id=self.a.eos_id, suppress_tokens=self.a.codec.suppress or None)

    def step(self):
        try:
            new = next(self.stream)
        except StopIteration:
            # every row produced the end-of-text token (the scheduler has already removed
            # them); should one remain, end it the same way
            if self.a.eos_id is None:
                raise RuntimeError("GPTSession.step: the stream ended with rows still "
                                   "open") from None
            return {rid: self.a.eos_id for rid in self.rows if rid in self.alive}
        return {rid: int(new[i]) for i, rid in enumerate(self.rows) if rid in self.alive}

    def remove(self, row_ids):
        self.alive.difference_update(row_ids)
        if not self.alive:
            self.close()

    def close(self):
        if self.stream is not None:
            self.stream.close()
        self.alive.clear()


class GPTAdapter(GenerativeAdapter):
    """A :class:`~tinynlp.models.GPT` and its :class:`TextCodec` behind the completion
    and chat endpoints."""

    task = "language model"
    can_join = False
    max_context = None          # generate_stream crops the context (see the module doc)

    def __init__(self, model, codec, description=None, folder=None):
        if not isinstance(model, GPT):
            raise TypeError(f"GPTAdapter: model must be a tinynlp.models.GPT, got "
                            f"{type(model).__name__}")
        self.model, self.codec = model, codec
        self.eos_id = codec.eos_id
        self.folder = None if folder is None else Path(folder)
        self.description = description or (
            f"GPT language model ({model.num_layers} layers, hidden {model.hidden_dim}, "
            f"context {model.sequence_length}, {model.vocab_size} tokens)")

    def encode(self, text):
        return self.codec.encode(text)

    def text_decoder(self, prompt, prompt_ids):
        return self.codec.decoder()

    def chat_prompt(self, messages):
        return self.codec.chat_prompt(messages)

    def session_key(self, params: SamplingParams):
        return (params.temperature, params.top_k, params.top_p)

    def open_session(self):
        return GPTSession(self)

    def warmup(self):
        s = self.open_session()
        s.add({0: GenerationRow(self.encode("a"), SamplingParams(max_tokens=2, seed=0)),
               1: GenerationRow(self.encode("ab"), SamplingParams(max_tokens=2, seed=0))})
        s.step()
        s.step()
        s.close()


def load_char_gpt(folder) -> GPTAdapter:
    """The adapter of a folder written by ``tinynlp train lm --model gpt``."""
    model, vocab, _ = lm.load(folder)
    if not isinstance(model, GPT):
        raise ValueError(f"{folder}: the language model is a {type(model).__name__}, not a GPT")
    return GPTAdapter(model, CharCodec(vocab), folder=folder, description=(
        f"character-level GPT language model ({model.num_layers} layers, hidden "
        f"{model.hidden_dim}, context {model.sequence_length}), {len(vocab)} tokens"))
