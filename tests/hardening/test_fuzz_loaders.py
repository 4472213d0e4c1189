"""Byte-level fuzz of every loader: a genuine file, corrupted by hypothesis (flipped bits,
overwritten runs, truncation, inserted bytes), must load as exactly the same content or
raise the loader's own error type — never another exception, never a hang (an alarm
fails an example after TIMEOUT seconds), never more than MEMORY_BOUND bytes
(``tracemalloc``, which sees NumPy's allocations, measured from a warmed-up start).

"The same content" is checked where the format can tell: zip members (``.tnz``,
pruned ``.npz``) and gzip streams carry CRCs, and the JSON files tinynlp writes carry
their own checksum (sharded index, Keras-style tokenizer) or a redundant listing (the
BPE tokens).  Plain GloVe / word2vec text and binary files have no checksum: a flipped
digit is another valid file, so for them the property is "loads, or raises
EmbeddingFormatError" (and the ``.gz`` versions must load identically or raise).

Half of the corruptions aim at the structure (zip headers and central directory, .npy
headers, gzip header and trailer) rather than at bulk data, where a CRC would catch
everything.  Example counts are modest (the CI profile runs 20 per loader); set
``TINYNLP_FUZZ_EXAMPLES=1000`` for a deeper run.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import signal
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import compress as C
from tinynlp.compress import PrunedFormatError, ShardError
from tinynlp.embeddings import EmbeddingFormatError, KeyedVectors
from tinynlp.models import CheckpointError, load_model
from tinynlp.pretrained.shipped import PretrainedFormatError
from tinynlp.text import BPETokenizer, Tokenizer, TokenizerFormatError

from . import crafting as K

TIMEOUT = 20
MEMORY_BOUND = 48 * 2**20
#: examples per loader: the profile's (CI: 20), or TINYNLP_FUZZ_EXAMPLES for a deeper local run
_EXAMPLES = os.environ.get("TINYNLP_FUZZ_EXAMPLES")
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture],
                **({"max_examples": int(_EXAMPLES)} if _EXAMPLES else {}))


# ---- corruptions -----------------------------------------------------------------------------

@st.composite
def corruption(draw, size, hot):
    """A list of edits ``(kind, position, value)`` on a file of ``size`` bytes; positions
    come from the ``hot`` ranges (the file's structure) half of the time."""
    def position():
        if hot and draw(st.booleans()):
            lo, hi = draw(st.sampled_from(hot))
            return draw(st.integers(lo, max(lo, min(hi, size) - 1)))
        return draw(st.integers(0, size - 1))
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "flip", "run", "truncate", "insert"]))
        if kind == "flip":
            edits.append(("flip", position(), draw(st.integers(1, 255))))
        elif kind == "run":
            edits.append(("run", position(), draw(st.sampled_from([b"\0", b"\xff", b"9", b" "]))
                          * draw(st.integers(1, 16))))
        elif kind == "truncate":
            edits.append(("truncate", draw(st.integers(0, size - 1)), None))
        else:
            edits.append(("insert", position(), draw(st.binary(min_size=1, max_size=8))))
    return edits


def corrupt(data, edits):
    data = bytearray(data)
    for kind, pos, value in edits:
        pos = min(pos, max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[pos] ^= value
        elif kind == "run":
            data[pos:pos + len(value)] = value[:max(0, len(data) - pos)] or value
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = value
    return bytes(data)


def zip_hot_ranges(path):
    """Local headers (+ the start of each member, where a .npy header is) and the central
    directory of a zip file."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        start_dir = zf.start_dir
    ranges = [(i.header_offset, i.header_offset + 30 + len(i.filename) + 200) for i in infos]
    with open(path, "rb") as f:
        end = len(f.read())
    return ranges + [(start_dir, end)]


# ---- the harness -----------------------------------------------------------------------------

class Hang(Exception):
    pass


@contextlib.contextmanager
def bounded(seconds=TIMEOUT):
    """Fail (raise Hang) after ``seconds``; measure the peak of traced allocations."""
    def alarm(signum, frame):
        raise Hang(f"the loader ran longer than {seconds} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    peak = [0]
    try:
        yield peak
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        peak[0] = tracemalloc.get_traced_memory()[1] - base


@pytest.fixture(scope="module", autouse=True)
def _tracing():
    tracemalloc.start()
    yield
    tracemalloc.stop()


def check(load, same, error, path, data, edits):
    """Write the corrupted file, load it: the same content, or ``error`` — nothing else."""
    bad = corrupt(data, edits)
    with open(path, "wb") as f:
        f.write(bad)
    result, raised = None, None
    with bounded() as peak:
        try:
            result = load(path)
        except error as e:
            raised = e
        except Hang:
            raise
        except Exception as e:
            raise AssertionError(f"{type(e).__name__} instead of {error.__name__} for edits "
                                 f"{edits}: {e}") from e
    assert peak[0] <= MEMORY_BOUND, f"{peak[0]} bytes allocated for edits {edits}"
    if raised is None and same is not None:
        assert same(result), f"edits {edits} loaded as different content without an error"
    if raised is not None:
        assert str(raised), "an error without a message"


# ---- .tnz checkpoints: a Sequential (with optimizer state), a functional model, a GPT --------

def _weights_equal(a, b):
    return len(a.weights) == len(b.weights) and all(
        p.name == q.name and p.dtype == q.dtype and np.array_equal(p.data, q.data)
        for p, q in zip(a.weights, b.weights))


def _optimizer_equal(a, b):
    if (a.optimizer is None) != (b.optimizer is None):
        return False
    if a.optimizer is None:
        return True
    sa, sb = a.optimizer.get_state(a.weights), b.optimizer.get_state(b.weights)
    return sa["iterations"] == sb["iterations"] and all(
        x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
        for x, y in zip(sa["slots"], sb["slots"]))


def _tnz(model, folder, name, train=True):
    if train:
        x = K.model_inputs(model)
        y = model.predict(x)
        K.compiled(model).fit(x, y, epochs=1, verbose=0)
    path = folder / f"{name}.tnz"
    model.save(path)
    original = load_model(path)   # also warms up every kernel the loader runs
    return path, path.read_bytes(), zip_hot_ranges(path), original


@pytest.fixture(scope="module")
def tnz_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tnz")
    return {"sequential": _tnz(K.sequential_model(), folder, "seq"),
            "functional": _tnz(K.functional_model(), folder, "fun"),
            "gpt": _tnz(K.gpt_model(), folder, "gpt", train=False)}


@pytest.mark.parametrize("which", ["sequential", "functional", "gpt"])
@FUZZ
@given(data=st.data())
def test_fuzzed_tnz_loads_identically_or_raises_checkpoint_error(tnz_files, which, data):
    path, raw, hot, original = tnz_files[which]
    edits = data.draw(corruption(len(raw), hot))

    def same(model):
        return (type(model) is type(original) and _weights_equal(model, original)
                and _optimizer_equal(model, original)
                and model.get_config() == original.get_config())
    check(lambda p: load_model(p), same, CheckpointError, path.with_name("fuzzed.tnz"), raw,
          edits)


# ---- sharded checkpoints: index.json or a shard --------------------------------------------

@pytest.fixture(scope="module")
def shard_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards") / "good"
    model = K.functional_model()
    C.save_sharded(model, folder, max_shard_size="1kB")
    C.load_sharded(folder, lazy=False)
    files = sorted(p.name for p in folder.iterdir())
    return folder, model, files


@FUZZ
@given(data=st.data())
def test_fuzzed_shard_folder_loads_identically_or_raises_shard_error(shard_folder, data):
    folder, model, files = shard_folder
    name = data.draw(st.sampled_from(files))
    raw = (folder / name).read_bytes()
    hot = [(0, len(raw))] if name == "index.json" else [(0, 128)]
    edits = data.draw(corruption(len(raw), hot))
    work = folder.with_name("fuzzed")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder, work)

    def same(loaded):
        return _weights_equal(loaded, model)
    check(lambda p: C.load_sharded(work, lazy=False), same, ShardError, work / name, raw, edits)


# ---- pruned CSR checkpoints --------------------------------------------------------------------

@pytest.fixture(scope="module")
def pruned_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pruned")
    model = K.pruned_model()
    path = folder / "p.npz"
    C.save_pruned(model, path)
    original = C.load_pruned(path)
    return path, path.read_bytes(), zip_hot_ranges(path), original


@FUZZ
@given(data=st.data())
def test_fuzzed_pruned_checkpoint_loads_identically_or_raises(pruned_file, data):
    path, raw, hot, original = pruned_file
    edits = data.draw(corruption(len(raw), hot))

    def same(model):
        return _weights_equal(model, original) and \
            set(C.pruning_masks(model)) == set(C.pruning_masks(original))
    check(C.load_pruned, same, PrunedFormatError, path.with_name("fuzzed.npz"), raw, edits)


# ---- word vectors ------------------------------------------------------------------------------

VECTOR_FORMATS = {
    "glove.txt": (lambda kv, p: kv.save_glove(p), KeyedVectors.load_glove),
    "w2v.txt": (lambda kv, p: kv.save_word2vec_format(p),
                lambda p: KeyedVectors.load_word2vec_format(p)),
    "w2v.bin": (lambda kv, p: kv.save_word2vec_format(p, binary=True),
                lambda p: KeyedVectors.load_word2vec_format(p, binary=True)),
}


@pytest.fixture(scope="module")
def vector_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vectors")
    kv = K.small_vectors()
    out = {}
    for name, (save, load) in VECTOR_FORMATS.items():
        for suffix in ("", ".gz"):
            path = folder / (name + suffix)
            save(kv, path)
            assert load(path).index_to_key == kv.index_to_key
            out[name + suffix] = (path, path.read_bytes(), load)
    return kv, out


@pytest.mark.parametrize("name", [n + s for n in VECTOR_FORMATS for s in ("", ".gz")])
@FUZZ
@given(data=st.data())
def test_fuzzed_vector_file_loads_or_raises_embedding_format_error(vector_files, name, data):
    kv, files = vector_files
    path, raw, load = files[name]
    gz = name.endswith(".gz")
    hot = [(0, 20), (len(raw) - 8, len(raw))] if gz else [(0, len(raw))]
    edits = data.draw(corruption(len(raw), hot))

    def same(loaded):   # a gzip stream has a CRC: then the content must be the same
        return not gz or (loaded.index_to_key == kv.index_to_key
                          and np.array_equal(loaded.vectors, kv.vectors))
    check(load, same, EmbeddingFormatError, path.with_name("fuzzed-" + name), raw, edits)


# ---- tokenizers --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tokenizer_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizers")
    tok, bpe = K.small_tokenizer(), K.small_bpe()
    tok.save(folder / "tok.json")
    bpe.save(folder / "bpe.json")
    return {"keras": (folder / "tok.json", tok, Tokenizer.load,
                      lambda t: t.get_config() == tok.get_config()),
            "bpe": (folder / "bpe.json", bpe, BPETokenizer.load,
                    lambda t: t == bpe and t.tokens == bpe.tokens)}


@pytest.mark.parametrize("which", ["keras", "bpe"])
@FUZZ
@given(data=st.data())
def test_fuzzed_tokenizer_json_loads_identically_or_raises(tokenizer_files, which, data):
    path, _, load, same = tokenizer_files[which]
    raw = path.read_bytes()
    edits = data.draw(corruption(len(raw), [(0, len(raw))]))
    check(load, same, TokenizerFormatError, path.with_name("fuzzed-" + path.name), raw, edits)


# ---- pretrained model folders (tn.pretrained): weights.npz or config.json ------------------

@pytest.fixture(scope="module")
def pretrained_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained") / "good"
    bpe = K.small_bpe()
    tn.random.seed(5)
    gpt = tn.models.GPT(bpe.vocab_size, 16, 1, 2, 8, 16)
    tn.pretrained.save_pretrained(gpt, bpe, folder)
    original = tn.pretrained.load_pretrained(folder)
    return folder, original


@pytest.mark.parametrize("name", ["weights.npz", "config.json"])
@FUZZ
@given(data=st.data())
def test_fuzzed_pretrained_folder_loads_identically_or_raises(pretrained_folder, name, data):
    """The .npz has CRCs: the same weights or an error.  config.json has no checksum (a
    flipped digit in ``info`` is another valid file): it loads or raises."""
    folder, original = pretrained_folder
    raw = (folder / name).read_bytes()
    hot = zip_hot_ranges(folder / name) if name == "weights.npz" else [(0, len(raw))]
    edits = data.draw(corruption(len(raw), hot))
    work = folder.with_name("fuzzed")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder, work)

    def same(model):
        return name == "config.json" or _weights_equal(model, original)
    check(lambda p: tn.pretrained.load_pretrained(work), same, PretrainedFormatError,
          work / name, raw, edits)


def test_the_harness_catches_a_wrong_exception_and_a_silent_change(tmp_path):
    """The checks above can fail: a loader raising something else, or loading changed
    content without an error, is reported."""
    path = tmp_path / "x.json"
    with pytest.raises(AssertionError, match="KeyError instead of TokenizerFormatError"):
        check(lambda p: {}["missing"], None, TokenizerFormatError, path, b"{}", [])
    with pytest.raises(AssertionError, match="different content"):
        check(lambda p: 1, lambda r: r == 2, TokenizerFormatError, path, b"{}", [])


def test_a_gzip_trailer_flip_is_an_error_not_different_vectors(tmp_path):
    kv = K.small_vectors()
    path = tmp_path / "v.txt.gz"
    kv.save_glove(path)
    data = bytearray(path.read_bytes())
    data[-6] ^= 0x10                       # the CRC-32 in the trailer
    path.write_bytes(bytes(data))
    with pytest.raises(EmbeddingFormatError, match="corrupt or truncated"):
        KeyedVectors.load_glove(path)
    with gzip.open(path) as f, pytest.raises(gzip.BadGzipFile):
        f.read()
