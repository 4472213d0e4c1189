"""Pretrained vectors bundled with tinynlp (see ``data/README.md`` for sources)."""

from __future__ import annotations

import os

from ..progress import loading
from .keyedvectors import KeyedVectors

__all__ = ["GLOVE_6B_50D_PATH", "load_glove_6b_50d"]

GLOVE_6B_50D_PATH = os.path.join(os.path.dirname(__file__), "data", "glove.6B.50d.subset.txt.gz")


def default_cache_dir():
    """``$TINYNLP_CACHE`` or ``~/.cache/tinynlp`` (never inside the package)."""
    return os.environ.get("TINYNLP_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "tinynlp")


def load_glove_6b_50d(limit=None, mmap=False):
    """GloVe 6B (Wikipedia 2014 + Gigaword 5, uncased), 50 dimensions: the
    20,000 most frequent words plus the words of the bundled tasks' training
    data (33,155 words), in GloVe's frequency order.  Public Domain (PDDL 1.0);
    Pennington, Socher & Manning (2014).  ``limit`` reads only the first words
    (``limit=20000``: exactly the 20,000 most frequent, the set tinynlp
    shipped before); ``mmap=True`` memory-maps a cached copy kept in
    :func:`default_cache_dir`.  See ``data/README.md`` for how the words were
    chosen and how much of each task's vocabulary they cover."""
    with loading("GloVe 6B 50d"):   # ~1.5 s from text; a line if it takes over a second
        return KeyedVectors.load_glove(GLOVE_6B_50D_PATH, limit=limit, mmap=mmap,
                                       cache_dir=os.path.join(default_cache_dir(), "embeddings")
                                       if mmap else None)
