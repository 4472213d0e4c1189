"""tinynlp vs PyTorch vs Keras 3: the same models, side by side.

``python -m benchmarks`` runs every model in every framework (each measurement
in its own subprocess) and writes ``benchmarks/RESULTS.md`` and
``benchmarks/ratios.png``; ``python -m benchmarks --quick`` only checks that the
harness runs.  See ``benchmarks/NOTES.md`` for what was optimised and why.

Layout:

* :mod:`benchmarks.specs`      model descriptions and sizes (no framework imports);
* :mod:`benchmarks.prepare`    data (tokenised Rotten Tomatoes, synthetic seed data)
  and initial weights, made once with tinynlp and converted to each layout;
* :mod:`benchmarks.tinynlp_models`, :mod:`benchmarks.torch_models`,
  :mod:`benchmarks.keras_models`   each model written in that framework
  (:mod:`benchmarks.torch_transformers`: the GPT and Transformer twins, with
  :mod:`benchmarks.transformer_layout` converting the weights);
* :mod:`benchmarks.worker`     one framework × model × batch size, in a fresh process;
* :mod:`benchmarks.harness`    runs the workers (:mod:`benchmarks.contention`: the same
  under one competing CPU-bound process), :mod:`benchmarks.report` writes the
  report and the plot;
* ``benchmarks/gpt_shakespeare.py``   the baby GPT's time to a validation loss and its
  generation speed, against the PyTorch twin.
"""
