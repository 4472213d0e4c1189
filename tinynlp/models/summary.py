"""``model.summary()``: a table of each layer's name (type), output shape and parameters."""

from __future__ import annotations

from ..layers.symbolic import shape_str

__all__ = ["shape_str", "human_bytes", "summary_lines", "totals_lines"]


def human_bytes(n):
    """A byte count as ``"512 B"``, ``"1.50 KB"``, ``"2.00 MB"``..."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def summary_lines(model, layers, line_length=None):
    """The lines of Keras' summary table for ``model`` listing ``layers``, then the totals."""
    rows = [(f"{layer.name} ({type(layer).__name__})",
             shape_str(getattr(layer, "_tn_output_shape", None)), layer.count_params())
            for layer in layers]
    w1 = max([len("Layer (type)")] + [len(r[0]) for r in rows]) + 2
    w2 = max([len("Output Shape")] + [len(r[1]) for r in rows]) + 2
    w3 = max(len("Param #"), *(len(f"{r[2]:,}") for r in rows)) if rows else len("Param #")
    width = line_length or (w1 + w2 + w3)
    lines = [f'Model: "{model.name}"', "_" * width,
             f"{'Layer (type)':<{w1}}{'Output Shape':<{w2}}{'Param #':>{w3}}", "=" * width]
    for i, (name, shape, n) in enumerate(rows):
        lines.append(f"{name:<{w1}}{shape:<{w2}}{n:>{w3},}")
        if i < len(rows) - 1:
            lines.append("_" * width)
    return lines + totals_lines(model, width)


def totals_lines(model, width):
    """The summary's closing lines: total, trainable and non-trainable parameter counts."""
    trainable = sum(p.size for p in model.weights if p.trainable)
    total = sum(p.size for p in model.weights)
    nbytes = sum(p.data.nbytes for p in model.weights)
    return ["=" * width, f"Total params: {total:,} ({human_bytes(nbytes)})",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", "_" * width]
