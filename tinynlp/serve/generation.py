"""The generative-model interface of the server, and what every generator shares.

A generative adapter (:class:`GenerativeAdapter`) turns text into token ids
and back, and opens *sessions*: a :class:`GenerationSession` is a batch of
rows (one row = one sequence being written) that step together, one token
per row per :meth:`~GenerationSession.step`.  The scheduler
(:class:`tinynlp.serve.batcher.GenerationScheduler`) owns the loop: it
opens a session for the waiting rows, calls ``step`` until every row has
finished, turns each new id into text with the adapter's
:class:`TextDecoder`, applies ``stop`` strings (:class:`StopMatcher`), and
removes finished or cancelled rows with :meth:`~GenerationSession.remove`.
Where the model keeps a per-row state (an RNN's ``h``/``c``), new rows may
join a running session (``can_join = True``); a model that only offers a
whole-batch generator (``generate_stream``) sets ``can_join = False`` and
the scheduler starts a new session when the current one has drained.

Rows share a session only when :meth:`GenerativeAdapter.session_key` of
their sampling parameters is equal (an adapter whose generator takes one
temperature for the whole batch puts the temperature in the key).

Implementations: :mod:`tinynlp.serve.rnn_lm` (the LSTM / SimpleRNN
language models of :mod:`tinynlp.tasks.language_model`) and
:mod:`tinynlp.serve.gpt` (a :class:`~tinynlp.models.GPT` over a character
vocabulary or a byte-level BPE tokenizer, on ``generate_stream``).

Adding a generative model is one module: a ``GenerativeAdapter`` subclass
(``encode``, ``text_decoder``, ``chat_prompt``, ``open_session``, and
``session_key`` / ``can_join`` / ``max_context`` / ``eos_id`` as the model
needs) with its ``GenerationSession``, and a loader registered with
:func:`tinynlp.serve.adapters.register_adapter` that recognises its saved
folders.  A model whose generator yields one ``(B,)`` array of new ids per
step for a fixed batch (e.g. a ``generate_stream``) maps onto a session
directly: ``add`` starts the generator with the rows' prompts, per-row seeds
and ``max(max_tokens)``; ``step`` returns the next array as ``{row_id: id}``;
``remove`` only forgets rows (closing the generator when none is left);
``can_join = False``; ``session_key`` holds the settings the generator takes
for the whole batch (temperature, top-k, top-p).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GenerationRow",
    "GenerationSession",
    "GenerativeAdapter",
    "SamplingParams",
    "StopMatcher",
    "TextDecoder",
    "nucleus_mask",
]


@dataclass(frozen=True)
class SamplingParams:
    """How one row is sampled (OpenAI's names; ``top_k`` is an extension).

    ``temperature = 0`` is greedy decoding (the argmax); ``top_p`` keeps the
    smallest set of most likely tokens whose probabilities add up to ``top_p``
    (nucleus sampling); ``top_k`` keeps the ``top_k`` most likely; ``seed``
    makes the draws repeatable (None: fresh entropy); ``stop`` strings end the
    text (the stop string itself is not returned).
    """

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    seed: int | None = None
    stop: tuple = ()


@dataclass
class GenerationRow:
    """One sequence to write: the prompt's token ids and how to sample."""

    prompt_ids: list
    params: SamplingParams


class TextDecoder(ABC):
    """Token ids → text, one id at a time; the concatenation of what :meth:`push`
    returns (then :meth:`flush`) is the text of all the ids pushed.  A decoder may
    hold text back (e.g. an incomplete UTF-8 sequence of a byte-level BPE)."""

    @abstractmethod
    def push(self, token_id: int) -> str:
        """The new text that ``token_id`` completes ("" when it holds it back)."""

    def flush(self) -> str:
        """Whatever is still held back, at the end of the row."""
        return ""


class GenerationSession(ABC):
    """A batch of rows stepping together; rows are named by the scheduler's int ids."""

    @abstractmethod
    def add(self, rows: dict) -> None:
        """Start rows ``{row_id: GenerationRow}`` (read their prompts).  Called once
        with the first rows; later calls only if the adapter's ``can_join``."""

    @abstractmethod
    def step(self) -> dict:
        """One new token for every row in the session: ``{row_id: token_id}``."""

    @abstractmethod
    def remove(self, row_ids: Iterable[int]) -> None:
        """Rows that finished or were cancelled leave the batch (their work stops)."""

    def close(self) -> None:
        """Release the session (it will not be stepped again)."""


class GenerativeAdapter(ABC):
    """What the server needs from a generative model (see the module docstring).

    Attributes: ``can_join`` — may rows join a running session;
    ``max_context`` — the most tokens a row may hold, prompt included (None:
    unbounded, as an RNN); ``eos_id`` — the id that ends a row (finish reason
    "stop"; its text is not returned), or None.
    """

    kind = "generator"
    can_join = False
    max_context: int | None = None
    eos_id: int | None = None

    @abstractmethod
    def encode(self, text: str) -> list:
        """The prompt's token ids (never empty: a model-specific start for "")."""

    @abstractmethod
    def text_decoder(self, prompt: str, prompt_ids) -> TextDecoder:
        """A fresh decoder for the text written after ``prompt`` (whose ids are
        ``prompt_ids``)."""

    @abstractmethod
    def chat_prompt(self, messages: list) -> tuple:
        """``(prompt_text, default_stop_strings)`` for OpenAI chat ``messages``
        (``[{"role", "content"}]``): the model's chat template and end of turn."""

    def session_key(self, params: SamplingParams) -> Hashable:
        """Rows whose keys are equal may share a session (default: all rows)."""
        return None

    @abstractmethod
    def open_session(self) -> GenerationSession:
        """An empty session; the scheduler then calls ``add`` with its first rows."""

    def warmup(self) -> None:
        """Run the model once so that the first request pays no first-call cost."""


def nucleus_mask(logits, temperature: float, top_p: float):
    """``logits`` with every token outside the nucleus set to −∞.

    The nucleus is the smallest set of most likely tokens (under
    ``softmax(logits / temperature)``) whose probabilities add up to at least
    ``top_p``; the most likely token is always kept.  ``top_p >= 1`` returns
    ``logits`` unchanged.
    """
    z = np.asarray(logits, dtype=np.float64)
    if top_p >= 1.0:
        return z
    t = temperature if temperature > 0 else 1.0
    order = np.argsort(-z, kind="stable")
    p = np.exp((z[order] - z[order[0]]) / t)
    p /= p.sum()
    keep = int(np.searchsorted(np.cumsum(p), top_p)) + 1   # first index reaching top_p
    out = np.full_like(z, -np.inf)
    out[order[:keep]] = z[order[:keep]]
    return out


class StopMatcher:
    """Cuts a streamed text at the first of the ``stop`` strings.

    :meth:`feed` takes the next piece of text and returns ``(safe, stopped)``:
    the text that can be sent now, and whether a stop string was found (the
    text before it is then all that is left to send).  Text that might be the
    start of a stop string is held back until it is known not to be one;
    :meth:`flush` returns it at the end of the row.
    """

    def __init__(self, stop=()):
        self.stop = tuple(s for s in stop if s)
        self.held = ""

    def feed(self, piece: str):
        if not self.stop:
            return piece, False
        text = self.held + piece
        cut = min((i for i in (text.find(s) for s in self.stop) if i >= 0), default=-1)
        if cut >= 0:
            self.held = ""
            return text[:cut], True
        keep = 0   # the longest end of text that begins some stop string
        for s in self.stop:
            for n in range(min(len(s) - 1, len(text)), keep, -1):
                if text.endswith(s[:n]):
                    keep = n
                    break
        self.held = text[len(text) - keep:] if keep else ""
        return text[:len(text) - keep], False

    def flush(self) -> str:
        held, self.held = self.held, ""
        return held
