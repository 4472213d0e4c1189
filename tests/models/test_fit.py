"""fit semantics: data forms, validation split, shuffling, weights, NaN, hooks, determinism."""

import numpy as np
import pytest

import tinynlp as tn

from .conftest import Recorder, small_model


def _compiled(model=None, **kw):
    model = model or small_model()
    model.compile(optimizer=kw.pop("optimizer", "adam"), loss=kw.pop("loss", "binary_crossentropy"),
                  metrics=kw.pop("metrics", ["accuracy"]))
    return model


def test_history_keys_and_lengths(blobs):
    x, y = blobs
    model = _compiled()
    hist = model.fit(x, y, epochs=3, batch_size=16, validation_data=(x[:50], y[:50]), verbose=0)
    assert hist is model.history
    assert hist.epoch == [0, 1, 2]
    assert list(hist.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 3 for v in hist.history.values())


def test_validation_split_holds_out_the_last_fraction_before_shuffling(blobs):
    x, y = blobs
    rec = Recorder()
    model = _compiled(tn.Sequential([rec, tn.layers.Dense(1, activation="sigmoid")]))
    marker = np.arange(200, dtype=np.float32)
    x = x.copy()
    x[:, 0] = marker                                  # feature 0 = sample index
    hist = model.fit(x, y, epochs=2, batch_size=64, validation_split=0.25, verbose=0)
    train_seen = np.concatenate([d for t, d in rec.calls if t])
    val_seen = np.concatenate([d for t, d in rec.calls if not t])
    # training: the first 150 samples, each exactly once per epoch, shuffled
    assert sorted(train_seen.tolist()) == sorted(list(range(150)) * 2)
    assert train_seen[:150].tolist() != list(range(150))
    # validation: the last 50, in order
    assert val_seen.tolist() == list(range(150, 200)) * 2
    assert hist.history["val_loss"][-1] == pytest.approx(
        model.evaluate(x[150:], y[150:], verbose=0)[0], rel=1e-6)


def test_shuffle_false_keeps_order_and_shuffle_true_reshuffles_each_epoch(blobs):
    x, y = blobs
    x = x.copy()
    x[:, 0] = np.arange(200)
    for shuffle in (False, True):
        rec = Recorder()
        model = _compiled(tn.Sequential([rec, tn.layers.Dense(1, activation="sigmoid")]))
        model.fit(x, y, epochs=2, batch_size=200, shuffle=shuffle, verbose=0)
        e1, e2 = rec.calls[0][1], rec.calls[1][1]
        if not shuffle:
            assert e1.tolist() == list(range(200)) == e2.tolist()
        else:
            assert sorted(e1.tolist()) == list(range(200)) == sorted(e2.tolist())
            assert e1.tolist() != e2.tolist()


def test_class_weight_equals_the_same_sample_weight(blobs):
    x, y = blobs
    weights = np.where(y == 1, 3.0, 0.5)
    results = []
    for kw in ({"class_weight": {0: 0.5, 1: 3.0}}, {"sample_weight": weights}):
        tn.random.seed(3)
        model = _compiled(small_model())
        hist = model.fit(x, y, epochs=2, batch_size=32, verbose=0, **kw)
        results.append((hist.history["loss"], model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_class_weight_changes_training(blobs):
    x, y = blobs
    out = []
    for cw in (None, {0: 1.0, 1: 20.0}):
        tn.random.seed(3)
        model = _compiled(small_model())
        model.fit(x, y, epochs=3, verbose=0, class_weight=cw)
        out.append((model.predict(x) > 0.5).mean())
    assert out[1] > out[0]           # heavy positive weight → more positive predictions


def test_fit_accepts_an_iterable_of_batches_reiterated_each_epoch(blobs):
    x, y = blobs
    batches = [(x[i:i + 40], y[i:i + 40]) for i in range(0, 200, 40)]

    class Loader:
        def __init__(self):
            self.iterations = 0

        def __iter__(self):
            self.iterations += 1
            return iter(batches)

        def __len__(self):
            return len(batches)

    loader = Loader()
    model = _compiled()
    hist = model.fit(loader, epochs=3, verbose=0, validation_data=batches[:1])
    assert loader.iterations == 3 and len(hist.history["loss"]) == 3
    # (x, y, sample_weight) triples work too
    triples = [(bx, by, np.ones(len(by))) for bx, by in batches]
    model.fit(triples, epochs=1, verbose=0)
    with pytest.raises(TypeError, match="each batch must be"):
        model.fit([(x[:4], y[:4], None, None)], epochs=1, verbose=0)


def test_one_shot_generator_fails_clearly_on_second_epoch(blobs):
    x, y = blobs
    gen = ((x[i:i + 50], y[i:i + 50]) for i in range(0, 200, 50))
    model = _compiled()
    with pytest.raises(ValueError, match="exhausted after one epoch"):
        model.fit(gen, epochs=2, verbose=0)


def test_regularization_losses_are_added_to_the_loss(blobs):
    x, y = blobs
    losses = []
    for reg in (None, tn.regularizers.l2(1.0)):
        tn.random.seed(0)
        model = tn.Sequential([tn.layers.Dense(1, activation="sigmoid", input_shape=(4,),
                                               kernel_regularizer=reg)])
        model.compile(optimizer=tn.optimizers.SGD(0.0), loss="binary_crossentropy")
        losses.append(model.fit(x, y, epochs=1, verbose=0).history["loss"][0])
        penalty = float(np.sum(model.get_weights()[0] ** 2))
    assert losses[1] == pytest.approx(losses[0] + penalty, rel=1e-5)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_loss_raises_with_epoch_and_batch(blobs):
    x, y = blobs
    x = x.copy()
    x[130] = np.nan                       # sample 130 → batch 5 (1-based) with batch_size 32
    model = _compiled()
    with pytest.raises(FloatingPointError) as err:
        model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    msg = str(err.value)
    assert "epoch 1 (of 2), batch 5 (of 7)" in msg and "nan" in msg


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_stops_without_applying_the_update(blobs):
    x, y = blobs
    model = _compiled()
    model.fit(x[:64], y[:64], epochs=1, verbose=0)
    x = x.copy()
    x[70] = np.inf
    stopper = tn.callbacks.TerminateOnNaN()
    snapshots = []

    class Snap(tn.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            snapshots.append(self.model.get_weights())

    hist = model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0,
                     callbacks=[Snap(), stopper])
    assert stopper.stopped_at == (0, 2)
    assert "epoch 1 (of 3), batch 3" in stopper.message
    assert len(hist.history["loss"]) == 1 and np.isnan(hist.history["loss"][0])
    final = model.get_weights()
    assert all(np.isfinite(w).all() for w in final)
    for a, b in zip(snapshots[-1], final):          # weights as after batch 2
        np.testing.assert_array_equal(a, b)


def test_gradient_hooks_run_before_the_step_and_constraints_after(blobs):
    x, y = blobs
    model = _compiled(optimizer=tn.optimizers.SGD(0.5))
    seen = []

    def zero_first_kernel(params):
        seen.append(len(params))
        params[0].grad = np.zeros_like(params[0].data)   # e.g. an all-reduce would go here

    kernel, bias = model.layers[0].weights
    before = kernel.data.copy()
    mask = np.ones_like(bias.data)
    mask[::2] = 0
    bias.constraint = lambda w: w * mask                  # e.g. a pruning mask
    model._gradient_hooks.append(zero_first_kernel)
    model.fit(x, y, epochs=1, batch_size=50, verbose=0)
    assert seen == [4, 4, 4, 4]
    np.testing.assert_array_equal(kernel.data, before)   # its gradient was zeroed
    assert np.all(bias.data[::2] == 0) and np.any(bias.data[1::2] != 0)
    assert all(p.grad is None for p in model.weights)   # gradients zeroed after the step


def test_same_seed_gives_bit_identical_runs(blobs):
    x, y = blobs
    runs = []
    for _ in range(2):
        tn.random.seed(42)
        model = _compiled(small_model(units=16, dropout=0.3))
        hist = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
        runs.append((hist.history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    tn.random.seed(43)
    model = _compiled(small_model(units=16, dropout=0.3))
    model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
    assert not np.array_equal(model.get_weights()[0], runs[0][1][0])


def test_initial_epoch_and_epochs_count_like_keras(blobs):
    x, y = blobs
    model = _compiled()
    hist = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert hist.epoch == [3, 4]


def test_verbose_modes(blobs, capsys):
    x, y = blobs
    model = _compiled()
    model.fit(x, y, epochs=2, batch_size=50, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, batch_size=50, verbose=2, validation_split=0.2)
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - ")
    assert "loss: " in lines[0] and "accuracy: " in lines[0] and "val_loss: " in lines[0]
    assert "/step" in lines[0]
    model.fit(x, y, epochs=1, batch_size=50, verbose=1)
    out = capsys.readouterr().out
    assert out.startswith("Epoch 1/1\n")
    assert "\r" in out and "4/4 [==============================]" in out
    assert out.endswith("\n") and "loss: " in out


def test_distributed_fit_uses_the_context_glue(blobs, monkeypatch):
    """fit(distributed=True) with a stand-in context: broadcast, shard, all-reduce, mean."""
    x, y = blobs
    calls = {"broadcast": 0, "allreduce": 0, "shard": [], "mean": []}

    class FakeContext:
        is_root = True

        def broadcast_weights(self, model):
            assert model.weights, "weights must be built before broadcasting"
            calls["broadcast"] += 1

        def shard_indices(self, n, epoch, seed, shuffle=True):
            calls["shard"].append((n, epoch))
            return np.arange(n)[::2]                      # this rank: every other sample

        def allreduce_gradients(self, params):
            calls["allreduce"] += 1

        def allreduce_mean(self, values, count):
            calls["mean"].append(count)
            return dict(values)

    monkeypatch.setattr(tn.Model, "_distributed_context", staticmethod(lambda: FakeContext()))
    model = _compiled(tn.Sequential([tn.layers.Dense(1, activation="sigmoid")]))
    model.fit(x, y, epochs=2, batch_size=25, verbose=0, distributed=True)
    assert calls["broadcast"] == 1
    assert [e for n, e in calls["shard"] if n == 200][-2:] == [0, 1]
    assert calls["allreduce"] == 2 * 4                     # 100 local samples / 25
    assert calls["mean"] == [100, 100]
    assert model._gradient_hooks == []                     # hook removed afterwards


def test_distributed_without_mpi4py_is_a_clear_import_error(blobs, monkeypatch):
    import sys
    x, y = blobs
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    model = _compiled()
    with pytest.raises(ImportError, match="needs mpi4py"):
        model.fit(x, y, distributed=True, verbose=0)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adagrad", "rmsprop"])
def test_sparse_embedding_trains_and_leaves_unseen_rows_untouched(optimizer):
    """Embedding(sparse=True): row-sparse gradients, only looked-up rows are updated."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 40, size=(96, 6))            # ids 40..99 never appear
    y = (ids % 2 == 0).mean(axis=1, keepdims=True).round().astype(np.float32)
    model = tn.Sequential([tn.layers.Embedding(100, 8, sparse=True, input_shape=(6,)),
                           tn.layers.GlobalAveragePooling1D(),
                           tn.layers.Dense(1, activation="sigmoid")])
    table = model.layers[0].weights[0]
    assert table.sparse
    before = table.data.copy()
    opt = tn.optimizers.get(optimizer)
    opt.learning_rate = 0.05
    model.compile(optimizer=opt, loss="binary_crossentropy", metrics=["accuracy"])
    kinds = set()
    model._gradient_hooks.append(lambda params: kinds.add(type(params[0].grad).__name__))
    hist = model.fit(ids, y, epochs=4, batch_size=16, verbose=0)
    assert kinds == {"RowSparseGrad"}
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    np.testing.assert_array_equal(table.data[40:], before[40:])
    assert not np.allclose(table.data[1:40], before[1:40])
