"""The seed's two Keras examples, with only `tensorflow.keras` replaced by `tinynlp`.

Each learns a small synthetic task that a model of that shape can learn, and
must reach an accuracy far above chance (0.5) on held-out data.
"""

import numpy as np

import tinynlp as tn


def _rnn_task(n, rng):
    """x (n, 1, 10); label 1 iff the first three features sum to > 0."""
    x = rng.standard_normal((n, 1, 10)).astype(np.float32)
    y = (x[:, 0, :3].sum(axis=1) > 0).astype(np.float32)
    return x, y


def _conv_task(n, rng):
    """x (n, 100, 1) noise; positives contain a bump of 5 high values somewhere."""
    x = (0.5 * rng.standard_normal((n, 100, 1))).astype(np.float32)
    y = rng.integers(0, 2, n).astype(np.float32)
    for i in np.flatnonzero(y):
        start = rng.integers(0, 95)
        x[i, start:start + 5, 0] += 2.5
    return x, y


def test_seed_example_simple_rnn():
    rng = np.random.default_rng(0)
    x_train, y_train = _rnn_task(640, rng)
    x_test, y_test = _rnn_task(300, rng)

    # --- the seed's code; only the import lines differ from tensorflow.keras ---
    from tinynlp.layers import Dense, SimpleRNN
    from tinynlp.models import Sequential

    model = Sequential()
    model.add(SimpleRNN(units=128, input_shape=(1, 10), activation="relu"))
    model.add(Dense(units=1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    # ---------------------------------------------------------------------------

    assert len(history.history["loss"]) == 10
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.85, f"test accuracy {accuracy:.3f} (chance is 0.5)"
    assert model.predict(x_test[:5]).shape == (5, 1)


def test_seed_example_conv1d():
    rng = np.random.default_rng(1)
    x_train, y_train = _conv_task(256, rng)
    x_test, y_test = _conv_task(200, rng)

    # --- the seed's code; only the import lines differ from tensorflow.keras ---
    from tinynlp.layers import Conv1D, Dense, Flatten, MaxPooling1D
    from tinynlp.models import Sequential

    model = Sequential()
    model.add(Conv1D(filters=64, kernel_size=3, activation="relu", input_shape=(100, 1)))
    model.add(MaxPooling1D(pool_size=2))
    model.add(Flatten())
    model.add(Dense(units=128, activation="relu"))
    model.add(Dense(units=1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    # ---------------------------------------------------------------------------

    assert history.history["accuracy"][-1] > history.history["accuracy"][0]
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.8, f"test accuracy {accuracy:.3f} (chance is 0.5)"


def test_seed_example_list_form_with_tn_namespace():
    """The DESIGN.md form: tn.Sequential([...]) with validation_split and EarlyStopping."""
    rng = np.random.default_rng(2)
    x_train, y_train = _rnn_task(400, rng)
    model = tn.Sequential([
        tn.layers.SimpleRNN(units=128, input_shape=(1, 10), activation="relu"),
        tn.layers.Dense(units=1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=10, batch_size=32, validation_split=0.1,
                        callbacks=[tn.callbacks.EarlyStopping()], verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["val_accuracy"][-1] > 0.75
