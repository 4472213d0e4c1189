"""The functional API: tn.Input, tn.Model(inputs, outputs), graphs with several inputs and
outputs, shared layers, nested models, masks along the graph, training, summary, configs,
save / load, and the errors a user meets."""

import os

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.autograd import ops
from tinynlp.layers.base import Layer

L = tn.layers


def ids(n, t, vocab=20, seed=0, pad_from=None):
    x = np.random.default_rng(seed).integers(1, vocab, (n, t))
    if pad_from is not None:
        for i, k in enumerate(pad_from):
            x[i, k:] = 0
    return x


def two_input_model():
    """Encoder and decoder ids, one Embedding shared by both, two LSTMs, a merge, a head."""
    enc = tn.Input(shape=(None,), dtype="int32", name="enc_ids")
    dec = tn.Input(shape=(None,), dtype="int32", name="dec_ids")
    embed = L.Embedding(20, 6, mask_zero=True, name="shared_embedding")
    h = L.LSTM(5, name="enc_lstm")(embed(enc))
    d = L.LSTM(5, name="dec_lstm")(embed(dec))
    out = L.Dense(1, activation="sigmoid", name="out")(L.Concatenate(name="concat")([h, d]))
    return tn.Model(inputs=[enc, dec], outputs=out, name="pair")


# ---- construction ----------------------------------------------------------------------------

def test_model_dispatches_to_functional_and_keeps_subclassing():
    x = tn.Input(shape=(4,))
    y = L.Dense(2)(x)
    for model in (tn.Model(x, y), tn.models.Model(inputs=x, outputs=y, name="m"),
                  tn.models.Functional(x, y)):
        assert type(model) is tn.models.Functional and isinstance(model, tn.Model)
    assert tn.models.Model(inputs=x, outputs=y, name="m").name == "m"
    assert tn.Input is tn.models.Input is tn.layers.Input

    class Sub(tn.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x, training=False):
            return self.d(x)

    assert type(Sub()) is Sub and type(tn.Model()) is tn.Model
    assert type(tn.Sequential([L.Dense(2)])) is tn.Sequential


def test_symbolic_tensors_carry_shape_dtype_mask_and_producer():
    ids_in = tn.Input(shape=(None,), dtype="int32", name="ids")
    assert ids_in.shape == (None, None) and ids_in.dtype == np.int32
    assert isinstance(ids_in.layer, L.InputLayer) and ids_in.mask_shape is None
    e = L.Embedding(10, 4, mask_zero=True, name="emb")(ids_in)
    assert e.shape == (None, None, 4) and e.dtype == np.float32 and e.mask_shape == (None, None)
    assert e.layer.name == "emb" and e.node.parents == [ids_in]
    p = L.MaxPooling1D(2)(L.Conv1D(3, 3)(tn.Input(shape=(None, 4))))
    assert p.shape == (None, None, 3)          # unknown length stays unknown through strides
    assert L.Dense(3)(tn.Input(shape=(7, 4))).shape == (None, 7, 3)
    out, h, c = L.LSTM(3, return_state=True)(e)
    assert out.shape == h.shape == c.shape == (None, 3)
    assert "SymbolicTensor shape=(None, None, 4) dtype=float32 from 'emb'" in repr(e)
    with pytest.raises(TypeError, match="symbolic .* no values"):
        np.asarray(e)
    with pytest.raises(TypeError, match=r"tn.layers.Add\(\)"):
        e + e


class LearnedPositions(Layer):
    """x + table[:T]: refuses sequences longer than ``sequence_length`` (naming both)."""

    def __init__(self, sequence_length, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length

    def build(self, input_shape):
        self.table = self.add_weight("table", (self.sequence_length, input_shape[-1]))

    def call(self, x, training=False):
        if x.shape[1] > self.sequence_length:
            raise ValueError(f"a sequence of {x.shape[1]} steps is longer than "
                             f"sequence_length={self.sequence_length}")
        return x + self.table[:x.shape[1]]


def test_unknown_lengths_work_for_layers_with_a_minimum_or_maximum_length():
    ids_in = tn.Input(shape=(None,), dtype="int32")
    e = L.Embedding(10, 4)(ids_in)
    assert LearnedPositions(5)(e).shape == (None, None, 4)      # shorter dummies are tried
    assert L.Conv1D(2, 40)(e).shape == (None, None, 2)           # longer dummies are tried
    model = tn.Model(ids_in, LearnedPositions(6, name="pos")(e))
    assert model.predict(np.ones((2, 6), "int64")).shape == (2, 6, 4)
    with pytest.raises(ValueError, match="longer than sequence_length=6"):
        model.predict(np.ones((1, 8), "int64"))
    with pytest.raises(ValueError, match="longer than sequence_length=0"):
        LearnedPositions(0)(e)


def test_shared_layer_is_one_layer_with_shared_weights():
    model = two_input_model()
    emb = model.get_layer("shared_embedding")
    assert [layer.name for layer in model.layers] == [
        "enc_ids", "dec_ids", "shared_embedding", "enc_lstm", "dec_lstm", "concat", "out"]
    assert sum(p is emb.embeddings for p in model.weights) == 1
    assert model.count_params() == 20 * 6 + 2 * (4 * 5 * (6 + 5 + 1)) + 11
    # both encoders read the same table: changing it changes both branches
    xe, xd = ids(3, 5), ids(3, 4, seed=1)
    before = model.predict([xe, xd])
    emb.embeddings.data[...] += 0.5
    assert not np.allclose(before, model.predict([xe, xd]))
    # its gradient accumulates from both uses
    with tn.enable_grad():
        out = model([xe, xd])
    out.sum().backward()
    assert np.abs(emb.embeddings.grad[xd.ravel()]).sum() > 0


# ---- the headline case: two inputs, a shared layer, saved and reloaded -------------------------

def test_two_inputs_shared_layer_fit_save_load_predicts_the_same(tmp_path):
    model = two_input_model()
    xe, xd = ids(32, 6, pad_from=[4] * 16), ids(32, 5, seed=1)
    y = (xe[:, 0] > 10).astype("float32")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    hist = model.fit({"enc_ids": xe, "dec_ids": xd}, y, epochs=2, batch_size=8, verbose=0)
    assert list(hist.history) == ["loss", "accuracy"]
    pred = model.predict([xe, xd])
    assert pred.shape == (32, 1)
    np.testing.assert_array_equal(pred, model.predict({"dec_ids": xd, "enc_ids": xe}))
    model.save(tmp_path / "pair.tnz")
    again = tn.models.load_model(tmp_path / "pair.tnz")
    assert type(again) is tn.models.Functional and again.name == "pair"
    assert again.input_names == ["enc_ids", "dec_ids"]
    np.testing.assert_array_equal(again.predict([xe, xd]), pred)
    assert again.evaluate([xe, xd], y, verbose=0) == model.evaluate([xe, xd], y, verbose=0)
    # the optimizer state came back: one more identical step on each gives identical weights
    model.train_on_batch({"enc_ids": xe[:8], "dec_ids": xd[:8]}, y[:8])
    again.train_on_batch([xe[:8], xd[:8]], y[:8])
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_get_config_from_config_round_trip_keeps_graph_and_sharing():
    model = two_input_model()
    config = model.get_config()
    assert config["input_layers"] == [["enc_ids", 0, 0], ["dec_ids", 0, 0]]
    assert config["output_layers"] == ["out", 0, 0]
    emb = next(s for s in config["layers"] if s["name"] == "shared_embedding")
    assert [n["args"][0]["config"]["keras_history"] for n in emb["inbound_nodes"]] == \
        [["enc_ids", 0, 0], ["dec_ids", 0, 0]]
    lstm = next(s for s in config["layers"] if s["name"] == "dec_lstm")
    assert lstm["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == \
        ["shared_embedding", 1, 0]
    clone = tn.models.Functional.from_config(config)
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    x = [ids(4, 5), ids(4, 3, seed=2)]
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    assert len(clone.weights) == len(model.weights)


# ---- several outputs ---------------------------------------------------------------------------------

def two_output_model():
    x = tn.Input(shape=(6,), name="features")
    h = L.Dense(8, activation="tanh", name="trunk")(x)
    a = L.Dense(1, name="reg")(h)
    b = L.Dense(3, activation="softmax", name="cls")(h)
    return tn.Model(x, [a, b])


def test_multi_output_fit_with_loss_weights():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 6)).astype("float32")
    y_reg = x[:, :1] * 2.0
    y_cls = (x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    model = two_output_model()
    assert model.output_names == ["reg", "cls"]
    model.compile("adam", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 2.0, "cls": 0.5},
                  metrics={"cls": ["accuracy"], "reg": [tn.metrics.MeanAbsoluteError()]})
    hist = model.fit(x, {"reg": y_reg, "cls": y_cls}, epochs=3, batch_size=16, verbose=0,
                     validation_split=0.25)
    assert list(hist.history) == ["loss", "reg_loss", "cls_loss", "reg_mae",
                                  "cls_accuracy", "val_loss", "val_reg_loss", "val_cls_loss",
                                  "val_reg_mae", "val_cls_accuracy"]
    logs = model.evaluate(x, [y_reg, y_cls], verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(2.0 * logs["reg_loss"] + 0.5 * logs["cls_loss"],
                                         rel=1e-6)
    pred_reg, pred_cls = model.predict(x)
    assert logs["reg_loss"] == pytest.approx(float(np.mean((pred_reg - y_reg) ** 2)), rel=1e-5)
    assert logs["cls_accuracy"] == pytest.approx(float(np.mean(pred_cls.argmax(1) == y_cls)))
    assert model.evaluate(x, [y_reg, y_cls], verbose=0) == [logs[k] for k in logs]


def test_a_zero_loss_weight_leaves_that_head_untrained_and_a_none_loss_needs_no_target():
    x = np.random.default_rng(1).standard_normal((32, 6)).astype("float32")
    y_reg, y_cls = x[:, :1], (x[:, 1] > 0).astype(int)
    model = two_output_model()
    cls_before = model.get_layer("cls").get_weights()
    reg_before = model.get_layer("reg").get_weights()
    model.compile("sgd", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.0])
    model.fit(x, [y_reg, y_cls], epochs=1, batch_size=8, verbose=0)
    for a, b in zip(cls_before, model.get_layer("cls").get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(reg_before[0], model.get_layer("reg").get_weights()[0])
    model.compile("sgd", loss={"reg": None, "cls": "sparse_categorical_crossentropy"})
    reg_before = model.get_layer("reg").get_weights()
    trunk_before = model.get_layer("trunk").get_weights()
    hist = model.fit(x, {"cls": y_cls}, epochs=1, batch_size=8, verbose=0)
    assert list(hist.history) == ["loss"]
    for a, b in zip(reg_before, model.get_layer("reg").get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(trunk_before[0], model.get_layer("trunk").get_weights()[0])


def test_multi_output_save_load_keeps_compile_settings(tmp_path):
    x = np.random.default_rng(2).standard_normal((16, 6)).astype("float32")
    y = [x[:, :1], (x[:, 1] > 0).astype(int)]
    model = two_output_model()
    model.compile("adam", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1, 3],
                  metrics=[None, ["accuracy"]])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.tnz")
    again = tn.models.load_model(tmp_path / "m.tnz")
    assert again.loss_weights == [1.0, 3.0] and again.metrics_names == model.metrics_names
    assert again.evaluate(x, y, verbose=0, return_dict=True) == \
        model.evaluate(x, y, verbose=0, return_dict=True)
    for a, b in zip(model.predict(x), again.predict(x)):
        np.testing.assert_array_equal(a, b)


# ---- masks along the graph -----------------------------------------------------------------------------

def test_padded_sequence_gives_the_unpadded_output():
    ids_in = tn.Input(shape=(None,), dtype="int32")
    h = L.LSTM(4)(L.Embedding(20, 5, mask_zero=True)(ids_in))
    model = tn.Model(ids_in, L.Dense(2)(h))
    short = np.array([[3, 7, 2]])
    padded = np.array([[3, 7, 2, 0, 0, 0]])
    np.testing.assert_allclose(model.predict(padded), model.predict(short), rtol=1e-6, atol=1e-7)
    # and without the mask the padding would change it (the test can fail)
    ids2 = tn.Input(shape=(None,), dtype="int32")
    emb = L.Embedding(20, 5)
    unmasked = tn.Model(ids2, L.LSTM(4)(emb(ids2)))
    assert not np.allclose(unmasked.predict(padded), unmasked.predict(short))


def test_output_mask_masks_the_loss():
    ids_in = tn.Input(shape=(None,), dtype="int32")
    seq = L.LSTM(4, return_sequences=True)(L.Embedding(20, 5, mask_zero=True)(ids_in))
    model = tn.Model(ids_in, L.Dense(3, activation="softmax")(seq))
    model.compile("adam", "sparse_categorical_crossentropy")
    x = ids(6, 5, pad_from=[3, 5, 2, 4, 1, 5])
    y = np.random.default_rng(0).integers(0, 3, (6, 5))
    y_other = np.where(x == 0, (y + 1) % 3, y)      # differs only at padded positions
    assert model.evaluate(x, y, verbose=0) == model.evaluate(x, y_other, verbose=0)
    assert model.evaluate(x, y, verbose=0) != model.evaluate(x, (y + 1) % 3, verbose=0)
    np.testing.assert_array_equal(model.compute_mask(x), x != 0)


def test_keyword_mask_arguments_for_layers_with_several_tensors():
    class Gate(Layer):
        """out = x · σ(context); records the masks it is given."""

        supports_masking = True

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = []

        def call(self, x, context=None, training=False, mask=None, x_mask=None,
                 context_mask=None):
            self.seen.append((x_mask is not None, context_mask is not None))
            return x * ops.sigmoid(context)

    a = tn.Input(shape=(None,), dtype="int32")
    b = tn.Input(shape=(None, 4))
    gate = Gate()
    out = gate(L.Embedding(9, 4, mask_zero=True)(a), context=b)
    assert out.shape == (None, None, 4)
    tn.Model([a, b], out).predict([ids(2, 3, vocab=9), np.ones((2, 3, 4), "float32")])
    assert gate.seen[-1] == (True, False)   # Keras' name_mask rule: x_mask from the Embedding


# ---- layers taking several tensors (attention-style calls) ----------------------------------------------

class CrossMix(Layer):
    """y = x + σ(scale) · mean_t(context); called as ``mix(x, context, scale=2.0)``."""

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")

    def __call__(self, x, context, training=False, mask=None, scale=None):
        if not self.built:
            self.build(tuple(np.shape(getattr(x, "data", x))))
            self.built = True
        return self.call(x, context, scale=scale)

    def call(self, x, context, scale=None):
        s = self.scale if scale is None else scale
        return x + ops.mean(context, axis=1, keepdims=True) * self.w * s

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def test_layer_called_with_two_positional_tensors_and_keyword_constants(tmp_path):
    x_in = tn.Input(shape=(None, 3), name="x")
    c_in = tn.Input(shape=(None, 3), name="ctx")
    mix = CrossMix(name="mix")
    y = mix(x_in, c_in, scale=2.0)
    y2 = mix(y, x_in)                                # shared, second call reads the first
    model = tn.Model([x_in, c_in], y2)
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype("float32")
    c = np.random.default_rng(1).standard_normal((2, 5, 3)).astype("float32")
    first = x + 2.0 * c.mean(1, keepdims=True)
    np.testing.assert_allclose(model.predict([x, c]), first + x.mean(1, keepdims=True),
                               rtol=1e-5)
    config = model.get_config()
    mix_cfg = next(s for s in config["layers"] if s["name"] == "mix")
    assert mix_cfg["inbound_nodes"][0]["kwargs"] == {"scale": 2.0}
    assert len(mix_cfg["inbound_nodes"][0]["args"]) == 2
    model.save(tmp_path / "mix.tnz")
    with pytest.raises(tn.models.CheckpointError, match="CrossMix"):
        tn.models.load_model(tmp_path / "mix.tnz")
    again = tn.models.load_model(tmp_path / "mix.tnz", custom_objects={"CrossMix": CrossMix})
    np.testing.assert_array_equal(again.predict([x, c]), model.predict([x, c]))


# ---- nested models -------------------------------------------------------------------------------------------

def test_nested_sequential_and_functional_save_and_reload(tmp_path):
    inner_seq = tn.Sequential([L.Dense(6, activation="relu"), L.Dense(4)], name="inner_seq")
    a = tn.Input(shape=(5,), name="a")
    inner_fn = tn.Model(a, L.Dense(4, activation="tanh", name="proj")(a), name="inner_fn")
    x = tn.Input(shape=(5,), name="x")
    merged = L.Average(name="average")([inner_seq(x), inner_fn(x)])
    model = tn.Model(x, L.Dense(1, name="head")(merged), name="outer")
    assert [layer.name for layer in model.layers] == ["x", "inner_seq", "inner_fn", "average",
                                                      "head"]
    assert model.count_params() == (5 * 6 + 6) + (6 * 4 + 4) + (5 * 4 + 4) + 5
    data = np.random.default_rng(0).standard_normal((7, 5)).astype("float32")
    want = model.predict(data)
    np.testing.assert_allclose(
        want, model.get_layer("head")(L.Average()([inner_seq(data), inner_fn(data)])).data,
        rtol=1e-6)
    model.compile("sgd", "mse")
    model.fit(data, np.zeros((7, 1), "float32"), epochs=1, verbose=0)
    want = model.predict(data)
    model.save(tmp_path / "outer.tnz")
    again = tn.models.load_model(tmp_path / "outer.tnz")
    assert type(again.get_layer("inner_seq")) is tn.Sequential
    assert type(again.get_layer("inner_fn")) is tn.models.Functional
    np.testing.assert_array_equal(again.predict(data), want)


# ---- summary -------------------------------------------------------------------------------------------------

def test_summary_lists_shapes_params_and_connections():
    lines = []
    two_input_model().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "pair"'
    assert "Connected to" in lines[2] and "Param #" in lines[2]
    row = next(i for i, line in enumerate(lines) if line.startswith("shared_embedding"))
    assert "(None, None, 6)" in lines[row] and "120" in lines[row]
    assert lines[row].rstrip().endswith("enc_ids[0][0]")
    assert lines[row + 1].strip() == "dec_ids[0][0]"             # the second call of the layer
    assert "shared_embedding[1][0]" in text                       # dec_lstm reads call 2
    concat = next(line for line in lines if line.startswith("concat (Concatenate)"))
    assert concat.rstrip().endswith("enc_lstm[0][0]")
    assert next(line for line in lines if line.startswith("enc_ids")).rstrip().endswith("-")
    assert "Total params: 611" in text and "Trainable params: 611" in text


# ---- training details ----------------------------------------------------------------------------------------

def test_training_flag_and_dict_inputs_in_train_on_batch():
    from tests.models.conftest import Recorder
    x_in = tn.Input(shape=(3,))
    rec = Recorder()
    model = tn.Model(x_in, L.Dense(1)(rec(x_in)))
    model.compile("sgd", "mse")
    x = np.arange(12, dtype="float32").reshape(4, 3)
    model.fit(x, np.zeros(4, "float32"), epochs=1, batch_size=4, verbose=0, shuffle=False)
    model.predict(x)
    assert [t for t, _ in rec.calls[-2:]] == [True, False]
    name = model.input_names[0]
    loss = model.train_on_batch({name: x}, np.zeros((4, 1), "float32"))
    assert np.isfinite(loss)


def test_batch_loader_mask_reaches_the_rnn_like_sequential():
    ids_in = tn.Input(shape=(None,), dtype="int32")
    functional = tn.Model(ids_in, L.Dense(1)(L.LSTM(4)(L.Embedding(20, 5)(ids_in))))
    seq = tn.Sequential([L.Embedding(20, 5), L.LSTM(4), L.Dense(1)])
    seqs = [[3, 4], [5, 6, 7, 8, 9], [1, 2, 3], [9, 9, 9, 9]]
    loader = tn.data.BatchLoader(seqs, np.zeros(4), batch_size=4, shuffle=False)
    seq(np.ones((1, 3), "int64"))
    seq.set_weights(functional.get_weights())
    out = functional.predict(loader)
    np.testing.assert_allclose(out, seq.predict(loader), rtol=1e-6)
    padded = next(iter(loader)).ids
    assert not np.allclose(out, functional.predict(padded))     # the mask mattered
    np.testing.assert_allclose(out[1:2], functional.predict(np.array([seqs[1]])), rtol=1e-6)


# ---- errors ----------------------------------------------------------------------------------------------------

def test_output_not_reachable_names_the_missing_input():
    a = tn.Input(shape=(3,), name="first")
    b = tn.Input(shape=(3,), name="second")
    out = L.Add()([L.Dense(3)(a), b])
    with pytest.raises(ValueError, match=r"depends on Input 'second', which is not among them"):
        tn.Model(a, out)
    with pytest.raises(TypeError, match="must come from tn.Input"):
        tn.Model(L.Dense(2)(a), out)
    with pytest.raises(TypeError, match="symbolic tensors"):
        tn.Model(inputs=np.zeros((2, 3)), outputs=out)


def test_mixing_symbolic_and_concrete_tensors_is_an_error():
    a = tn.Input(shape=(3,))
    with pytest.raises(TypeError, match=r"Add .* mixed with concrete data: .*ndarray of shape "
                                        r"\(2, 3\)"):
        L.Add()([a, np.zeros((2, 3), "float32")])
    with pytest.raises(TypeError, match="mixed with concrete data: argument 'context' "
                                        r"\(Tensor"):
        CrossMix()(a, context=tn.tensor(np.zeros((2, 1, 3))))


def test_wrong_number_of_arrays_and_unknown_dict_keys():
    model = two_input_model()
    model.compile("adam", "binary_crossentropy")
    xe, xd, y = ids(4, 3), ids(4, 3), np.zeros(4, "float32")
    with pytest.raises(ValueError, match=r"has 2 inputs \['enc_ids', 'dec_ids'\]; pass a list"):
        model.predict(xe)
    with pytest.raises(ValueError, match="has 2 input.* got a list of 3 arrays"):
        model.fit([xe, xd, xd], y, verbose=0)
    with pytest.raises(ValueError, match=r"unknown input name\(s\) \['decoder'\]"):
        model.predict({"enc_ids": xe, "decoder": xd})
    with pytest.raises(ValueError, match=r"no data for input\(s\) \['dec_ids'\]"):
        model.evaluate({"enc_ids": xe}, y, verbose=0)
    with pytest.raises(ValueError, match=r"input 'dec_ids' .* expects arrays of shape "
                                         r"\(None, None\), got shape \(4, 3, 1\)"):
        model.predict([xe, xd[..., None]])
    multi = two_output_model()
    multi.compile("adam", loss=["mse", "sparse_categorical_crossentropy"])
    x = np.zeros((4, 6), "float32")
    with pytest.raises(ValueError, match=r"unknown output name\(s\) \['score'\]"):
        multi.fit(x, {"reg": np.zeros((4, 1)), "score": np.zeros(4)}, verbose=0)
    with pytest.raises(ValueError, match="2 outputs .* list of 3"):
        multi.fit(x, [np.zeros((4, 1))] * 3, verbose=0)
    with pytest.raises(ValueError, match=r"loss is a list of 3 but the model has 2 outputs"):
        multi.compile("adam", loss=["mse"] * 3)
    with pytest.raises(ValueError, match="one entry per output"):
        multi.compile("adam", loss="mse", metrics=["accuracy"])
    with pytest.raises(ValueError, match="class_weight is not supported"):
        multi.fit(x, [np.zeros((4, 1)), np.zeros(4)], class_weight={0: 1.0}, verbose=0)


def test_unknown_axis_for_weights_and_duplicate_names_are_errors():
    with pytest.raises(ValueError, match="features axis must be known"):
        L.Dense(3)(tn.Input(shape=(None, None)))
    a = tn.Input(shape=(3,))
    with pytest.raises(ValueError, match=r"layer names must be unique.*\['twin'\]"):
        tn.Model(a, L.Dense(2, name="twin")(L.Dense(3, name="twin")(a)))


def test_a_mask_dropped_by_a_layer_warns_when_the_graph_is_built():
    e = L.Embedding(9, 4, mask_zero=True)(tn.Input(shape=(None,), dtype="int32"))
    with pytest.warns(UserWarning, match="does not support masking"):
        L.Flatten()(e)


# ---- Keras 3 parity ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_keras_parity_two_inputs_shared_embedding_with_masks():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":  # pragma: no cover
        pytest.skip("Keras parity tests use the torch backend")
    K = keras.layers

    def build(lib, Input, Model):
        enc = Input(shape=(None,), dtype="int32", name="enc_ids")
        dec = Input(shape=(None,), dtype="int32", name="dec_ids")
        embed = lib.Embedding(20, 6, mask_zero=True, name="shared_embedding")
        h = lib.LSTM(5, name="enc_lstm")(embed(enc))
        d = lib.GRU(5, name="dec_gru")(embed(dec))
        m = lib.Multiply(name="mul")([h, d])
        return Model([enc, dec], [lib.Dense(1, name="out")(lib.Add(name="add")([h, m])),
                                  lib.Dense(2, name="aux")(d)])

    theirs = build(K, keras.Input, keras.Model)
    ours = build(L, tn.Input, tn.Model)
    for layer in ours.layers:
        layer.set_weights(theirs.get_layer(layer.name).get_weights())
    xe = ids(4, 6, pad_from=[3, 6, 1, 4])
    xd = ids(4, 5, seed=1, pad_from=[5, 2, 4, 3])
    for a, b in zip(ours.predict([xe, xd]), theirs.predict([xe, xd], verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # several outputs: per-output losses, weights, metric names as Keras reports them
    y = [np.random.default_rng(3).standard_normal((4, 1)).astype("float32"),
         np.array([0, 1, 1, 0])]
    theirs.compile("sgd", loss=["mse", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True)], loss_weights=[0.3, 2.0], metrics=[[], ["accuracy"]])
    ours.compile("sgd", loss=["mse", tn.losses.SparseCategoricalCrossentropy(from_logits=True)],
                 loss_weights=[0.3, 2.0], metrics=[[], ["accuracy"]])
    k_logs = theirs.evaluate([xe, xd], y, verbose=0, return_dict=True)
    o_logs = ours.evaluate([xe, xd], y, verbose=0, return_dict=True)
    assert sorted(o_logs) == sorted(k_logs) == ["aux_accuracy", "aux_loss", "loss", "out_loss"]
    for key, value in k_logs.items():
        assert o_logs[key] == pytest.approx(value, rel=1e-5), key
