"""Learning curves: ``tn.plot.history(history, path=None)``.

One panel per quantity (loss, accuracy, ...), the training curve and, when
present, the validation curve (``val_<name>``) against the epoch number::

    history = model.fit(x, y, epochs=20, validation_split=0.1)
    tn.plot.history(history, "curves.png")      # saved (no display needed)
    tn.plot.history(history)                    # shown in a window / notebook

matplotlib is imported only when a plot is made.  Saving draws on a
standalone Agg canvas (no GUI backend, works on servers and in tests);
showing uses pyplot.
"""

from __future__ import annotations

import math
import os

__all__ = ["history"]


def _history_dict(h):
    data = getattr(h, "history", h)
    if not isinstance(data, dict):
        raise TypeError(f"plot.history: expected a History (from fit) or a dict of lists, got "
                        f"{type(h).__name__}")
    return data


def history(h, path=None, metrics=None, title=None, figsize=None):
    """Plot the curves in ``h`` (a History or ``{"loss": [...], "val_loss": [...]}``).

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

    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        make_figure = Figure
    else:
        import matplotlib.pyplot as plt
        make_figure = plt.figure

    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig = make_figure(figsize=figsize or (4.2 * cols, 3.2 * rows))
    if path is not None:
        FigureCanvasAgg(fig)
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
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=100)
    else:
        import matplotlib.pyplot as plt
        plt.show()
    return fig
