"""tn.plot: every figure is rendered to a PNG that is checked to be a real picture, and
what it draws (cells, points, labels) is checked against the data."""

import struct
import zlib

import numpy as np
import pytest

import tinynlp as tn

pytest.importorskip("matplotlib")


def assert_real_png(path, min_width=300, min_height=200):
    """A valid PNG (signature, IHDR, CRCs), of a plausible size, that is not blank."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        chunks.append(kind)
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_width and height >= min_height, (width, height)
    from matplotlib.image import imread
    pixels = imread(str(path))
    assert pixels.shape[:2] == (height, width)
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]).round(3), axis=0)
    assert len(colours) > 20, "the image is (nearly) blank"
    return pixels


def test_confusion_matrix_png_and_cells(tmp_path):
    cm = np.array([[50, 3, 0], [4, 40, 6], [0, 9, 21]])
    path = tmp_path / "sub" / "cm.png"
    fig = tn.plot.confusion_matrix(cm, ["neg", "neu", "pos"], path=path, title="three classes")
    assert_real_png(path)
    ax = fig.axes[0]
    # rows normalised: the image holds each row's fractions; counts written in the cells
    np.testing.assert_allclose(ax.images[0].get_array(), cm / cm.sum(axis=1, keepdims=True))
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(c) for c in cm.ravel() if c)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["neg", "neu", "pos"]
    raw = tn.plot.confusion_matrix(cm, path=tmp_path / "raw.png", normalize=False)
    np.testing.assert_array_equal(raw.axes[0].images[0].get_array(), cm)
    with pytest.raises(ValueError, match="square"):
        tn.plot.confusion_matrix(np.ones((2, 3)), path=tmp_path / "x.png")
    with pytest.raises(ValueError, match="labels: expected 3 labels, got 2"):
        tn.plot.confusion_matrix(cm, ["a", "b"], path=tmp_path / "x.png")


def test_confusion_matrix_of_the_metrics_module(tmp_path):
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2])
    cm = tn.metrics.confusion_matrix(y_true, y_pred)
    fig = tn.plot.confusion_matrix(cm, path=tmp_path / "cm.png")
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "1", "1", "1", "2"]


def test_embedding_projection_pca_matches_the_svd(tmp_path):
    rng = np.random.default_rng(0)
    groups = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2", "b3"]}
    vectors = {w: rng.normal(size=8) + (5.0 if w[0] == "a" else -5.0)
               for ws in groups.values() for w in ws}
    path = tmp_path / "pca.png"
    fig = tn.plot.embedding_projection(vectors, groups=groups, arrows=[("a1", "b1")],
                                       path=path, title="two clusters")
    assert_real_png(path)
    X = np.stack([vectors[w] for ws in groups.values() for w in ws])
    Xc = X - X.mean(axis=0)
    _, S, Vt = np.linalg.svd(Xc)
    expected = Xc @ Vt[:2].T
    ax = fig.axes[0]
    drawn = np.concatenate([c.get_offsets() for c in ax.collections])
    np.testing.assert_allclose(drawn, expected, atol=1e-12)
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    assert labels == ["a1", "a2", "a3", "b1", "b2", "b3"]
    # the two clusters lie apart along the first axis, which explains most variance
    assert abs(drawn[:3, 0].mean() - drawn[3:, 0].mean()) > 10
    assert f"{100 * S[0] ** 2 / (S ** 2).sum():.1f} %" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_embedding_projection_from_an_array_and_keyed_vectors(tmp_path):
    X = np.random.default_rng(1).normal(size=(5, 4))
    fig = tn.plot.embedding_projection(X, ["v", "w", "x", "y", "z"], path=tmp_path / "a.png")
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(),
                               tn.plot.pca_2d(X)[0], atol=1e-12)
    glove = tn.embeddings.load_glove_6b_50d(limit=2000)
    path = tmp_path / "glove.png"
    tn.plot.embedding_projection(glove, ["king", "man", "woman", "city", "country", "music"],
                                 path=path)
    assert_real_png(path)
    with pytest.raises(KeyError, match="not in the vectors"):
        tn.plot.embedding_projection(glove, ["king", "zzzzqqq"], path=tmp_path / "x.png")
    with pytest.raises(ValueError, match="method"):
        tn.plot.embedding_projection(X, list("abcde"), method="umap", path=tmp_path / "x.png")


def test_embedding_projection_tsne(tmp_path):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(size=(10, 6)) + 8, rng.normal(size=(10, 6)) - 8])
    path = tmp_path / "tsne.png"
    fig = tn.plot.embedding_projection(X, [f"w{i}" for i in range(20)], method="tsne",
                                       path=path)
    assert_real_png(path)
    P = fig.axes[0].collections[0].get_offsets()
    assert P.shape == (20, 2)
    # t-SNE keeps the two well-separated clusters apart
    gap = np.linalg.norm(P[:10].mean(0) - P[10:].mean(0))
    spread = max(P[:10].std(0).max(), P[10:].std(0).max())
    assert gap > 2 * spread
    assert fig.axes[0].get_xlabel() == "t-SNE 1"


def test_attention_heatmap(tmp_path):
    rng = np.random.default_rng(3)
    q = ["the", "cat", "sat"]
    k = ["<s>", "le", "chat", "assis", "."]
    scores = rng.normal(size=(3, 5))
    w = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    path = tmp_path / "att.png"
    fig = tn.plot.attention_heatmap(w, q, k, path=path, title="cross-attention")
    assert_real_png(path)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), w)
    assert [t.get_text() for t in ax.get_xticklabels()] == k
    assert [t.get_text() for t in ax.get_yticklabels()] == q
    # a Tensor works, and several heads give one panel each (+ the colour bar)
    heads = tn.tensor(np.stack([w, w[:, ::-1]]))
    fig2 = tn.plot.attention_heatmap(heads, q, k, path=tmp_path / "heads.png")
    assert len([a for a in fig2.axes if a.images]) == 2
    np.testing.assert_allclose(fig2.axes[1].images[0].get_array(), w[:, ::-1])
    with pytest.raises(ValueError, match="key_tokens: expected 5 labels, got 4"):
        tn.plot.attention_heatmap(w, q, k[:4], path=tmp_path / "x.png")
    with pytest.raises(ValueError, match="weights: expected a 2-D or 3-D array"):
        tn.plot.attention_heatmap(w[0], path=tmp_path / "x.png")


def test_accuracy_vs_size(tmp_path):
    labels = ["float32", "pruned 90 %", "int8"]
    sizes = [2.8e6, 3.2e5, 7.4e5]
    accs = [0.761, 0.708, 0.7625]
    path = tmp_path / "acc.png"
    fig = tn.plot.accuracy_vs_size(labels, sizes, accs, path=path, title="sentiment")
    assert_real_png(path)
    ax = fig.axes[0]
    np.testing.assert_allclose(np.concatenate([c.get_offsets() for c in ax.collections]),
                               np.c_[np.array(sizes) / 1e3, accs])
    assert ax.get_xscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["float32 (2.8 MB, 0.761)", "pruned 90 % (320.0 KB, 0.708)",
                      "int8 (740.0 KB, 0.762)"]  # .3f of 0.7625
    with pytest.raises(ValueError, match="same length"):
        tn.plot.accuracy_vs_size(labels, sizes[:2], accs, path=tmp_path / "x.png")


def test_training_log(tmp_path):
    log = [{"step": s, "tokens": 100 * s, "loss": 6.0 - s / 10, "lr": 1e-3} for s in (5, 10, 15)]
    log += [{"step": 10, "tokens": 1000, "val_loss": 5.5, "val_perplexity": 244.7},
            {"step": 15, "tokens": 1500, "val_loss": 5.2, "val_perplexity": 181.3},
            {"note": "a record without the x key is skipped"}]
    path = tmp_path / "log.png"
    fig = tn.plot.training_log(log, path=path, x="tokens", title="pretraining")
    assert_real_png(path)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "perplexity", "lr"]
    loss_ax, ppl_ax = fig.axes[:2]
    (train, val) = loss_ax.get_lines()
    np.testing.assert_allclose(train.get_xdata(), [500, 1000, 1500])
    np.testing.assert_allclose(val.get_ydata(), [5.5, 5.2])
    assert ppl_ax.get_yscale() == "log" and loss_ax.get_xlabel() == "tokens"
    with pytest.raises(ValueError, match=r"\['accuracy'\] not in the log"):
        tn.plot.training_log(log, path=path, metrics=["accuracy"])
    with pytest.raises(ValueError, match="no record has the x-axis key 'epoch'"):
        tn.plot.training_log(log, path=path, x="epoch")


def test_save_writes_and_closes_pyplot_figures(tmp_path):
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot(np.sin(np.linspace(0, 6, 50)))
    path = tmp_path / "deep" / "folder" / "sine.png"
    assert tn.plot.save(fig, path) == path
    assert_real_png(path, min_width=200, min_height=200)
    assert not plt.fignum_exists(fig.number)  # a script does not pile figures up
    assert not tn.plot.in_notebook()
    with pytest.raises(TypeError, match="Figure"):
        tn.plot.save("not a figure", path)


def test_with_a_path_no_pyplot_figure_is_left_open(tmp_path):
    import matplotlib.pyplot as plt
    before = plt.get_fignums()
    tn.plot.confusion_matrix(np.eye(2), path=tmp_path / "cm.png")
    tn.plot.attention_heatmap(np.eye(2), path=tmp_path / "a.png")
    assert plt.get_fignums() == before


def test_label_efficiency_panels(tmp_path):
    panels = {"RT": {"a": ([0.01, 0.1, 1.0], [0.6, 0.7, 0.8], [0.01, 0.0, 0.02]),
                     "b": ([0.01, 1.0], [0.5, 0.75], [0.0, 0.0])},
              "Brown": {"a": ([0.1], [0.3], [0.0])}}
    fig = tn.plot.label_efficiency(panels, path=tmp_path / "le.png", title="t")
    assert (tmp_path / "le.png").stat().st_size > 0 and len(fig.axes) == 2
    with pytest.raises(ValueError, match="same length"):
        tn.plot.label_efficiency({"RT": {"a": ([0.1, 1.0], [0.5], [0.0])}})
    with pytest.raises(ValueError, match="panels"):
        tn.plot.label_efficiency({})
