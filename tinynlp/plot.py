"""The plots people make around an NLP model: ``tn.plot``.

==========================  ====================================================
``history(h)``              learning curves (loss, accuracy, ...) per epoch
``training_log(records)``   curves logged every N steps (pretraining's JSON lines)
``confusion_matrix(cm)``    true class × predicted class, rows normalised
``embedding_projection``    word vectors in 2-D (PCA; t-SNE with scikit-learn)
``attention_heatmap(w)``    attention weights (Tq, Tk) between two token lists
``accuracy_vs_size(...)``   accuracy against model size (compression)
``save(fig, path)``         save any figure (yours too) the way these do
==========================  ====================================================

Every function returns the matplotlib ``Figure``; ``path=...`` also saves it
(format from the extension, folders created)::

    history = model.fit(x, y, epochs=20, validation_split=0.1)
    tn.plot.history(history, "curves.png")      # saved (no display needed)
    tn.plot.history(history)                    # shown in a window / notebook
    fig = tn.plot.confusion_matrix(cm, labels=["neg", "pos"], path="cm.png")

Where the figure goes:

* in a Jupyter notebook (an IPython kernel with the inline backend) it is a
  pyplot figure and so appears under the cell, saved or not;
* elsewhere, with ``path``, it is drawn on a standalone Agg canvas: nothing
  opens on screen and no pyplot state is left behind (servers, tests, loops
  that make hundreds of plots);
* elsewhere, without ``path``, it is a pyplot figure: ``plt.show()`` shows it
  (``history`` calls it for you, as it always did).

matplotlib is imported only when a plot is made.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

__all__ = ["history", "training_log", "confusion_matrix", "embedding_projection", "pca_2d",
           "attention_heatmap", "accuracy_vs_size", "label_efficiency", "save", "in_notebook"]


# ------------------------------------------------------------------ figure plumbing
def in_notebook() -> bool:
    """True inside a Jupyter kernel whose matplotlib backend draws inline."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    shell = ipython.get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    import matplotlib
    return "inline" in str(matplotlib.get_backend()).lower()


def _figure(path, figsize, layout=None):
    """A pyplot figure (notebook, or nothing to save to) or a standalone Agg one."""
    if path is None or in_notebook():
        import matplotlib.pyplot as plt
        return plt.figure(figsize=figsize, layout=layout)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _finish(fig, path, dpi=100, tight=True):
    """Lay the figure out, write it to ``path`` if given (folders created), return it."""
    if tight:
        fig.tight_layout()
    if path is not None:
        _write(fig, path, dpi)
    return fig


def _write(fig, path, dpi):
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=dpi)


def save(fig, path, dpi=100):
    """Save ``fig`` to ``path`` (folders created) and return ``path``.

    A pyplot figure is then closed, so scripts that make many figures do not
    pile them up — except in a notebook, where it stays open so that it is
    shown under the cell.
    """
    if not hasattr(fig, "savefig"):
        raise TypeError(f"plot.save: expected a matplotlib Figure, got {type(fig).__name__}")
    _write(fig, path, dpi)
    if not in_notebook() and getattr(fig, "number", None) is not None:
        import matplotlib.pyplot as plt
        if plt.fignum_exists(fig.number):
            plt.close(fig)
    return path


def _array(x, name, ndim):
    a = np.asarray(getattr(x, "data", x), dtype=np.float64)
    if a.ndim not in ndim:
        raise ValueError(f"{name}: expected a {' or '.join(f'{n}-D' for n in ndim)} array, "
                         f"got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return a


def _labels(labels, n, name):
    if labels is None:
        return [str(i) for i in range(n)]
    labels = [str(t) for t in labels]
    if len(labels) != n:
        raise ValueError(f"{name}: expected {n} labels, got {len(labels)}")
    return labels


# ------------------------------------------------------------------ learning curves
def _history_dict(h):
    data = getattr(h, "history", h)
    if not isinstance(data, dict):
        raise TypeError(f"plot.history: expected a History (from fit) or a dict of lists, got "
                        f"{type(h).__name__}")
    return data


def history(h, path=None, metrics=None, title=None, figsize=None):
    """Plot the curves in ``h`` (a History or ``{"loss": [...], "val_loss": [...]}``).

    One panel per quantity (loss, accuracy, ...), the training curve and, when
    present, the validation curve (``val_<name>``) against the epoch number.
    ``metrics``: names to plot (default: every training quantity, loss first;
    ``learning_rate`` is plotted too when logged).  ``path``: save the figure
    there (format from the extension) instead of showing it.  Returns the
    matplotlib Figure.
    """
    data = _history_dict(h)
    if not data:
        raise ValueError("plot.history: the history is empty (did fit run any epoch?)")
    if metrics is None:
        names = [k for k in data if not k.startswith("val_")]
        names += [k[4:] for k in data if k.startswith("val_") and k[4:] not in data]
        names.sort(key=lambda k: (k != "loss", k == "learning_rate"))
    else:
        names = list(metrics)
        missing = [m for m in names if m not in data and "val_" + m not in data]
        if missing:
            raise ValueError(f"plot.history: {missing} not in the history (has {sorted(data)})")
    epochs_axis = list(getattr(h, "epoch", []) or [])

    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig = _figure(path, figsize or (4.2 * cols, 3.2 * rows))
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        for key, label, style in ((name, "train", "-o"), ("val_" + name, "validation", "-s")):
            values = data.get(key)
            if not values:
                continue
            xs = [e + 1 for e in epochs_axis] if len(epochs_axis) == len(values) else \
                list(range(1, len(values) + 1))
            ax.plot(xs, values, style, markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if name == "learning_rate":
            ax.set_yscale("log")
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _write(fig, path, 100)
    elif not in_notebook():
        import matplotlib.pyplot as plt
        plt.show()
    return fig


def training_log(records, path=None, x="step", metrics=None, title=None, figsize=None):
    """Curves from a log of dicts, one per logging event (e.g. the lines of a JSON-lines
    log: ``{"step": 100, "tokens": 204800, "loss": 4.1, "lr": 6e-4}``,
    ``{"step": 250, "val_loss": 4.3, "val_perplexity": 73.7}``).

    One panel per quantity: ``name`` (training, a line) and ``val_name``
    (validation, markers) against ``x`` ("step", "tokens", ...), each from the
    records that have it.  ``metrics``: the quantities (default: those of
    ``loss``, ``perplexity``, ``lr`` present).  Perplexity is drawn on a log
    scale.  Returns the Figure (saved to ``path`` when given).
    """
    records = [r for r in records if isinstance(r, dict) and x in r]
    if not records:
        raise ValueError(f"plot.training_log: no record has the x-axis key {x!r}")
    present = {k for r in records for k in r}
    if metrics is None:
        names = [m for m in ("loss", "perplexity", "lr")
                 if m in present or "val_" + m in present]
    else:
        names = list(metrics)
        missing = [m for m in names if m not in present and "val_" + m not in present]
        if missing:
            raise ValueError(f"plot.training_log: {missing} not in the log "
                             f"(has {sorted(present)})")
    if not names:
        raise ValueError(f"plot.training_log: nothing to plot (keys {sorted(present)})")
    fig = _figure(path, figsize or (4.2 * len(names), 3.2))
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        for key, label, style in ((name, "train", "-"), ("val_" + name, "validation", "-o")):
            pts = [(r[x], r[key]) for r in records if r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), style, markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
        if name == "perplexity":
            ax.set_yscale("log")
        ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


# ------------------------------------------------------------------ confusion matrix
def confusion_matrix(cm, labels=None, path=None, title=None, normalize=True, cmap="Blues",
                     figsize=None):
    """A confusion matrix as an image: rows are the true class, columns the prediction.

    ``cm``: counts ``(k, k)`` (e.g. :func:`tinynlp.metrics.confusion_matrix`).
    ``normalize``: colour each row as fractions of that class's examples (the
    recall of each class is on the diagonal); the counts are written in the
    non-zero cells either way.  Returns the Figure.
    """
    cm = _array(cm, "cm", (2,))
    if cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm: expected a square (k, k) matrix, got shape {cm.shape}")
    if (cm < 0).any():
        raise ValueError("cm: expected counts (>= 0), got a negative entry")
    k = cm.shape[0]
    labels = _labels(labels, k, "labels")
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1.0) if normalize else cm
    size = max(5.0, 0.45 * k + 2.5)
    fig = _figure(path, figsize or (size + 1.0, size))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                 label="fraction of the true class" if normalize else "count")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(labels, rotation=60 if k > 4 else 0, ha="right" if k > 4 else "center",
                       fontsize=8)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = shown.max() if shown.size else 0.0
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                count = cm[i, j]
                text = str(int(count)) if float(count).is_integer() else f"{count:.3g}"
                ax.text(j, i, text, ha="center", va="center", fontsize=6 if k > 8 else 9,
                        color="white" if shown[i, j] > 0.5 * (1.0 if normalize else top)
                        else "black")
    if title:
        ax.set_title(title)
    return _finish(fig, path)


# ------------------------------------------------------------------ embeddings
def pca_2d(X):
    """``(P, explained)``: rows of ``X`` projected on its two principal axes, and the
    fraction of the variance each axis explains.

    Centre ``Xc = X − mean``, take the SVD ``Xc = U S Vᵀ``; the axes are the
    first two rows of ``Vᵀ``, ``P = Xc V[:, :2]``, ``explained = S[:2]² / Σ S²``.
    """
    X = _array(X, "X", (2,))
    if X.shape[0] < 2 or X.shape[1] < 2:
        raise ValueError(f"X: expected at least 2 rows and 2 columns, got shape {X.shape}")
    Xc = X - X.mean(axis=0)
    _, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    total = float((S ** 2).sum())
    explained = S[:2] ** 2 / total if total > 0 else np.zeros(2)
    return Xc @ Vt[:2].T, explained


def _tsne_2d(X, random_state):
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise ImportError("embedding_projection: method='tsne' needs scikit-learn "
                          "(pip install scikit-learn); method='pca' needs nothing") from None
    n = X.shape[0]
    if n < 4:
        raise ValueError(f"embedding_projection: t-SNE needs at least 4 words, got {n}")
    tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3.0), init="pca",
                random_state=random_state)
    return tsne.fit_transform(X)


def embedding_projection(vectors, words=None, groups=None, method="pca", arrows=None,
                         path=None, title=None, random_state=0, figsize=(7, 6)):
    """Word vectors drawn in 2-D, each point labelled with its word.

    ``vectors``: anything indexable by word (``KeyedVectors``, a dict) together with
    ``words`` or ``groups``; or an ``(n, d)`` array whose rows go with ``words``.
    ``groups``: ``{name: [words]}``, one colour per group (then ``words`` may be
    omitted).  ``method``: ``"pca"`` (:func:`pca_2d`; the axis labels give the
    explained variance) or ``"tsne"`` (scikit-learn's t-SNE, seeded by
    ``random_state``).  ``arrows``: pairs ``(from_word, to_word)`` drawn as
    arrows, e.g. country → capital.  Returns the Figure.
    """
    if method not in ("pca", "tsne"):
        raise ValueError(f"method: expected 'pca' or 'tsne', got {method!r}")
    if groups is not None:
        if not isinstance(groups, dict) or not groups:
            raise TypeError("groups: expected a non-empty dict {name: [words]}")
        group_words = [[str(w) for w in ws] for ws in groups.values()]
        flat = [w for ws in group_words for w in ws]
        if words is not None and list(map(str, words)) != flat:
            raise ValueError("words and groups: give one of them (groups lists the words)")
        words = flat
        names = list(groups)
    else:
        if words is None and not hasattr(vectors, "shape"):
            raise ValueError("words: expected the words to draw (or groups=...), got None")
        names = None
    if hasattr(vectors, "shape") and not hasattr(vectors, "most_similar"):
        X = _array(vectors, "vectors", (2,))
        words = _labels(words, X.shape[0], "words")
    else:
        missing = [w for w in words if w not in vectors]
        if missing:
            raise KeyError(f"embedding_projection: {missing[:5]} not in the vectors")
        X = np.stack([np.asarray(vectors[w], dtype=np.float64) for w in words])
    if X.shape[0] < 2:
        raise ValueError(f"embedding_projection: expected at least 2 words, got {X.shape[0]}")

    if method == "pca":
        P, explained = pca_2d(X)
        axis_labels = [f"PC{i + 1} ({100 * e:.1f} % of the variance)"
                       for i, e in enumerate(explained)]
    else:
        P = _tsne_2d(X, random_state)
        axis_labels = ["t-SNE 1", "t-SNE 2"]

    fig = _figure(path, figsize)
    ax = fig.add_subplot(1, 1, 1)
    if names is None:
        spans = [(None, 0, len(words))]
    else:
        starts = np.cumsum([0] + [len(ws) for ws in group_words])
        spans = list(zip(names, starts[:-1], starts[1:]))
    for name, a, b in spans:
        ax.scatter(P[a:b, 0], P[a:b, 1], label=name)
        for (px, py), w in zip(P[a:b], words[a:b]):
            ax.annotate(w, (px, py), fontsize=9, xytext=(3, 3), textcoords="offset points")
    index = {w: i for i, w in enumerate(words)}
    for src, dst in (arrows or ()):
        if src not in index or dst not in index:
            raise ValueError(f"arrows: ({src!r}, {dst!r}) names a word that is not drawn")
        ax.annotate("", xy=P[index[dst]], xytext=P[index[src]],
                    arrowprops=dict(arrowstyle="->", alpha=0.3))
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    if names is not None:
        ax.legend()
    if title:
        ax.set_title(title)
    return _finish(fig, path)


# ------------------------------------------------------------------ attention
def attention_heatmap(weights, query_tokens=None, key_tokens=None, path=None, title=None,
                      cmap="viridis", figsize=None):
    """Attention weights as a heat map: row ``i`` is how query token ``i`` spreads its
    attention over the key tokens (each row of a softmax sums to 1).

    ``weights``: ``(Tq, Tk)``, or ``(heads, Tq, Tk)`` for one panel per head (a
    Tensor or an array).  ``query_tokens`` / ``key_tokens``: the labels of the
    rows and columns (for self-attention, the same list twice).  Returns the Figure.
    """
    w = _array(weights, "weights", (2, 3))
    heads = w if w.ndim == 3 else w[None]
    n_heads, tq, tk = heads.shape
    query_tokens = _labels(query_tokens, tq, "query_tokens")
    key_tokens = _labels(key_tokens, tk, "key_tokens")
    cols = min(n_heads, 4)
    rows = math.ceil(n_heads / cols)
    cell = 0.42
    width = max(3.5, cell * tk + 1.8)
    height = max(3.0, cell * tq + 1.4)
    # constrained layout leaves room for the key tokens written above the panels
    fig = _figure(path, figsize or (width * cols, height * rows), layout="constrained")
    vmax = max(1.0, float(heads.max()))
    for h in range(n_heads):
        ax = fig.add_subplot(rows, cols, h + 1)
        im = ax.imshow(heads[h], cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto")
        ax.set_xticks(range(tk))
        ax.set_yticks(range(tq))
        ax.set_xticklabels(key_tokens, rotation=60, ha="left", fontsize=8)
        ax.set_yticklabels(query_tokens, fontsize=8)
        ax.xaxis.tick_top()
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query")
        if n_heads > 1:
            ax.set_title(f"head {h}", fontsize=9, pad=2)
    fig.colorbar(im, ax=fig.axes, fraction=0.046, pad=0.04, label="attention weight")
    if title:
        fig.suptitle(title)
    return _finish(fig, path, tight=False)   # the colour bar spans the axes: no tight layout


# ------------------------------------------------------------------ compression
def _human_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} GB"


def accuracy_vs_size(labels, sizes, accuracies, path=None, title=None, ylabel="accuracy",
                     log_size=True, figsize=(10, 5.5)):
    """One marker per model variant: its size in bytes (x, log scale by default)
    against its accuracy (y); the legend gives each variant's size and accuracy.

    ``labels``, ``sizes`` (bytes), ``accuracies``: sequences of the same length, e.g.
    the rows of ``benchmarks/compression_report.py``.  Returns the Figure.
    """
    labels = [str(t) for t in labels]
    sizes = _array(sizes, "sizes", (1,))
    accuracies = _array(accuracies, "accuracies", (1,))
    if not (len(labels) == len(sizes) == len(accuracies)):
        raise ValueError(f"labels, sizes and accuracies: expected the same length, got "
                         f"{len(labels)}, {len(sizes)} and {len(accuracies)}")
    if not len(labels):
        raise ValueError("labels: expected at least one variant, got none")
    if (sizes <= 0).any():
        raise ValueError("sizes: expected positive byte counts")
    fig = _figure(path, figsize)
    ax = fig.add_subplot(1, 1, 1)
    markers = "os^Dv<>PXh*p"
    for i, (label, size, acc) in enumerate(zip(labels, sizes, accuracies)):
        ax.scatter(size / 1e3, acc, s=60, marker=markers[i % len(markers)],
                   label=f"{label} ({_human_bytes(size)}, {acc:.3f})")
    if log_size:
        ax.set_xscale("log")
    ax.set_xlabel("bytes on disk (kB" + (", log scale)" if log_size else ")"))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return _finish(fig, path, dpi=120)


# ------------------------------------------------------------------ label efficiency
def label_efficiency(panels, path=None, title=None, ylabel="test accuracy", figsize=None):
    """Accuracy against the fraction of training labels used (log scale), one panel per
    data set, one line per model with its seeds' spread.

    ``panels``: ``{panel title: {model label: (fractions, means, stds)}}`` (sequences of
    the same length; a std of 0 draws no bar).  Returns the Figure.
    """
    if not isinstance(panels, dict) or not panels:
        raise ValueError("panels: expected a non-empty dict {panel: {model: (fractions, "
                         "means, stds)}}")
    n = len(panels)
    fig = _figure(path, figsize or (5.2 * n, 4.2))
    markers = "osD^v<>P"
    for k, (name, curves) in enumerate(panels.items()):
        ax = fig.add_subplot(1, n, k + 1)
        for i, (label, (fractions, means, stds)) in enumerate(curves.items()):
            f = _array(fractions, f"{label}: fractions", (1,))
            m = _array(means, f"{label}: means", (1,))
            sd = _array(stds, f"{label}: stds", (1,))
            if not len(f) == len(m) == len(sd):
                raise ValueError(f"{label}: fractions, means and stds must have the same "
                                 f"length, got {len(f)}, {len(m)}, {len(sd)}")
            ax.errorbar(100 * f, m, yerr=sd, marker=markers[i % len(markers)], capsize=3,
                        label=label)
        ax.set_xscale("log")
        ticks = sorted({100 * float(x) for c in curves.values() for x in c[0]})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training labels used (%, log scale)")
        ax.set_ylabel(ylabel)
        ax.set_title(name)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, path, dpi=120)

