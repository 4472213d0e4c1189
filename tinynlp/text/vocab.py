"""``Vocab``: a fixed token <-> id table with ``<pad>`` = 0 and ``<unk>`` = 1."""

from __future__ import annotations

import json
import os
from collections import Counter

from ..atomic import atomic_write

__all__ = ["Vocab", "PAD", "UNK"]

PAD = "<pad>"
UNK = "<unk>"


class Vocab:
    """Token <-> id table.  ``itos[0]`` is ``"<pad>"``, ``itos[1]`` is ``"<unk>"``.

    Build it from data with :meth:`build`; unknown tokens encode to the
    ``<unk>`` id.

    >>> v = Vocab.build([["a", "b", "a"], ["c", "a"]], specials=["<bos>", "<eos>"])
    >>> v.itos
    ['<pad>', '<unk>', '<bos>', '<eos>', 'a', 'b', 'c']
    >>> v.encode(["a", "zzz"])
    [4, 1]
    """

    def __init__(self, itos, counts=None):
        itos = list(itos)
        if len(itos) < 2 or itos[0] != PAD or itos[1] != UNK:
            raise ValueError(
                f"itos: expected a list starting with {PAD!r}, {UNK!r}, got {itos[:2]!r}")
        for i, t in enumerate(itos):
            if not isinstance(t, str):
                raise TypeError(f"itos[{i}]: expected a str token, got {type(t).__name__}")
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = {}
        for i, t in enumerate(itos):
            if t in self.stoi:
                raise ValueError(f"itos: token {t!r} appears twice (at {self.stoi[t]} and {i})")
            self.stoi[t] = i
        self.counts: Counter = Counter(counts or {})

    pad_token = PAD
    unk_token = UNK
    pad_id = 0
    unk_id = 1

    @classmethod
    def build(cls, token_lists, min_freq: int = 1, max_size: int | None = None,
              specials=(PAD, UNK)) -> "Vocab":
        """Build a vocabulary from an iterable of token lists.

        Args:
            token_lists: e.g. ``[["the", "cat"], ["a", "dog"]]``.
            min_freq: drop tokens seen fewer times than this.
            max_size: at most this many entries in total, specials included
                (the most frequent tokens are kept).
            specials: special tokens put first, in order.  ``"<pad>"`` and
                ``"<unk>"`` are always ids 0 and 1 (added when missing), the
                others follow, e.g. ``specials=["<bos>", "<eos>"]``.

        Tokens are ordered by decreasing frequency, ties alphabetically, so the
        result does not depend on the order of the data.
        """
        if isinstance(token_lists, str):
            raise TypeError("token_lists: expected a list of token lists, got a str")
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq: expected an int >= 1, got {min_freq!r}")
        specials = [PAD, UNK] + [s for s in specials if s not in (PAD, UNK)]
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < len(specials)):
            raise ValueError(
                f"max_size: expected None or an int >= {len(specials)} (the number of "
                f"specials), got {max_size!r}")
        counts: Counter = Counter()
        for i, tokens in enumerate(token_lists):
            if isinstance(tokens, str):
                raise TypeError(
                    f"token_lists[{i}]: expected a list of tokens, got a str "
                    f"({tokens!r:.40}); tokenize it first, e.g. with word_tokenize")
            for j, t in enumerate(tokens):
                if not isinstance(t, str):
                    raise TypeError(
                        f"token_lists[{i}][{j}]: expected a str token, got {type(t).__name__}")
            counts.update(tokens)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials),
                        key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        return cls(specials + ranked, counts)

    # -- lookups -----------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __iter__(self):
        return iter(self.itos)

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, self.unk_id)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, first={self.itos[:6]!r})"

    def encode(self, tokens) -> list[int]:
        """Tokens -> ids (unknown tokens -> ``unk_id`` = 1)."""
        if isinstance(tokens, str):
            raise TypeError(f"tokens: expected a list of str tokens, got a str ({tokens!r:.40})")
        return [self.stoi.get(t, 1) for t in tokens]

    def decode(self, ids, skip_pad: bool = False) -> list[str]:
        """Ids -> tokens.  ``skip_pad`` drops the ``<pad>`` ids."""
        n = len(self.itos)
        out = []
        for k, i in enumerate(ids):
            i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"ids[{k}]: expected an id in [0, {n}), got {i}")
            if skip_pad and i == 0:
                continue
            out.append(self.itos[i])
        return out

    # -- persistence -------------------------------------------------------
    def save(self, path) -> None:
        """Save as JSON (path ending in ``.json``) or plain text, one token a line."""
        path = os.fspath(path)
        if path.endswith(".json"):
            data = json.dumps({"itos": self.itos}, ensure_ascii=False, indent=0)
        else:
            for i, t in enumerate(self.itos):
                if "\n" in t or "\r" in t:
                    raise ValueError(
                        f"token {i} ({t!r}) contains a line break: save as .json instead")
            data = "\n".join(self.itos) + "\n"
        atomic_write(path, lambda f: f.write(data), mode="w")

    @classmethod
    def load(cls, path) -> "Vocab":
        """Load what :meth:`save` wrote (format chosen by the ``.json`` suffix)."""
        path = os.fspath(path)
        with open(path, encoding="utf-8", newline="") as f:
            data = f.read()
        if path.endswith(".json"):
            return cls(json.loads(data)["itos"])
        lines = data.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls(lines)
