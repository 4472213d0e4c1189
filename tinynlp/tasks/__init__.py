"""Ready recipes on bundled data: each task module has ``train(...) -> TaskResult``,
``evaluate(folder)`` and a ``MODELS`` tuple; the ``tinynlp`` command drives them.

* :mod:`~tinynlp.tasks.sentiment` — binary sentiment (Rotten Tomatoes): rnn, lstm, cnn
* :mod:`~tinynlp.tasks.classification` — multi-class genres (Brown)
* :mod:`~tinynlp.tasks.tagging` — part-of-speech tagging (Brown, universal tags)
* :mod:`~tinynlp.tasks.language_model` — character / word language models: lstm, rnn, word, gpt
* :mod:`~tinynlp.tasks.translation` — encoder–decoders (Spanish → English): lstm, attention,
  transformer (:mod:`~tinynlp.tasks.transformer_seq2seq`)
* :mod:`~tinynlp.tasks.imbalance` — class-imbalance strategies compared on a 10 %-minority task
"""

from .common import TaskResult, quick_mode

__all__ = ["TaskResult", "quick_mode"]
