import numpy as np
import pytest

import tinynlp as tn


def test_plot_history_saves_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    history = tn.callbacks.History()
    history.on_train_begin()
    for epoch, (loss, acc) in enumerate([(0.7, 0.5), (0.5, 0.7), (0.4, 0.8)]):
        history.on_epoch_end(epoch, {"loss": loss, "accuracy": acc, "val_loss": loss + 0.1,
                                     "val_accuracy": acc - 0.05})
    path = tmp_path / "plots" / "curves.png"
    fig = tn.plot.history(history, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "accuracy"]
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["train", "validation"]
    np.testing.assert_allclose(lines[1].get_ydata(), [0.8, 0.6, 0.5])
    with pytest.raises(ValueError, match="not in the history"):
        tn.plot.history(history, path=path, metrics=["f1"])
    with pytest.raises(ValueError, match="history is empty"):
        tn.plot.history({}, path=path)
