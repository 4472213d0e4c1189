"""Compression report: what pruning, int8 quantization, distillation and sharding
cost and save on a real model.

Trains the sentiment model on the bundled Rotten Tomatoes sentences
(Embedding → Conv1D → global max-pool → Dense → Dense), then measures, for the
float32 model and each compressed variant: parameters (total and non-zero),
bytes on disk, test accuracy, inference latency per batch of 32, and the
peak memory of loading the checkpoint and running one batch.  Writes
``benchmarks/compression_results.md`` (one table, plus the PyTorch int8
comparison when torch is installed) and ``benchmarks/compression_accuracy_vs_size.png``.

    python benchmarks/compression_report.py            # a few minutes on 2 cores
    python benchmarks/compression_report.py --quick    # seconds: a smoke test
    python benchmarks/compression_report.py --threads 2

Timings use one thread per library unless ``--threads`` says otherwise: on a
2-core machine shared with other jobs, multi-threaded kernels (BLAS, Numba's
``prange``, PyTorch's) spend most of their time waiting for each other.

Every number comes from this run; nothing is hard-coded.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.threads_env import fix_pools, threads_from_argv  # noqa: E402 (no NumPy)

# Thread counts must be fixed before NumPy / Numba / PyTorch start their pools.
THREADS = threads_from_argv(sys.argv[1:])
fix_pools(THREADS)

import numpy as np  # noqa: E402

from benchmarks.timing import best_seconds  # noqa: E402

import tinynlp as tn  # noqa: E402
from tinynlp import compress as C  # noqa: E402
from tinynlp.autograd import no_grad  # noqa: E402
from tinynlp.kernels.int8_gemm import vnni_available

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------
# data and models
# --------------------------------------------------------------------------

def load_data(vocab, maxlen, quick):
    (xtr, ytr), (xte, yte) = tn.datasets.load_rotten_tomatoes()
    if quick:
        xtr, ytr, xte, yte = xtr[:1200], ytr[:1200], xte[:400], yte[:400]
    tok = tn.text.Tokenizer(num_words=vocab)
    tok.fit_on_texts(xtr)
    xtr = tn.text.pad_sequences(tok.texts_to_sequences(xtr), maxlen=maxlen)
    xte = tn.text.pad_sequences(tok.texts_to_sequences(xte), maxlen=maxlen)
    return (xtr, np.asarray(ytr, np.float32)), (xte, np.asarray(yte, np.float32))


def sentiment_model(vocab, dim, filters, hidden, name=None):
    return tn.Sequential([
        tn.layers.Embedding(vocab, dim),
        tn.layers.Conv1D(filters, 5, activation="relu"),
        tn.layers.GlobalMaxPooling1D(),
        tn.layers.Dropout(0.3),
        tn.layers.Dense(hidden, activation="relu"),
        tn.layers.Dense(1, activation="sigmoid"),
    ], name=name)


def compile_model(model, lr=1e-3):
    model.compile(optimizer=tn.optimizers.Adam(learning_rate=lr), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def clone(model):
    """A fresh copy with the same weights (and no optimizer state)."""
    copy = tn.Sequential.from_config(model.get_config())
    copy._build_input_spec = model._build_input_spec
    copy._try_build()
    copy.set_weights(model.get_weights())
    return copy


def accuracy(model, x, y):
    p = C._utils.run_model(model, x, batch_size=256).reshape(-1)
    return float(np.mean((p > 0.5) == (y > 0.5)))


# --------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------

def latency_ms(model, batch, reps):
    """Best wall time of up to ``reps`` forward passes on ``batch`` (inference mode;
    at least 3, and no more once 5 s have passed).

    The minimum, not the mean: on a shared machine the other jobs only ever
    add time, so the fastest run is the closest to the cost of the work itself.
    """
    with no_grad():
        return 1e3 * best_seconds(lambda: model(batch, training=False), reps, budget=5.0)


def nonzero_params(model):
    return int(sum(np.count_nonzero(p.data) for p in model.weights))


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))


class Row:
    def __init__(self, name, model, path, size, loader, note=""):
        self.name, self.model, self.path, self.size = name, model, path, size
        self.loader, self.note = loader, note


def measure(row, x_test, y_test, batch, reps):
    m = row.model
    out = {"variant": row.name, "params": m.count_params(), "nonzero": nonzero_params(m),
           "bytes": row.size, "accuracy": accuracy(m, x_test, y_test),
           "latency_ms": latency_ms(m, batch, reps), "note": row.note}

    def load_and_run():
        loaded = row.loader(row.path)
        with no_grad():
            y = loaded(batch, training=False) if row.loader is not C.layer_by_layer_predict \
                else None
        return y

    if row.loader is C.layer_by_layer_predict:
        _, peak = C.peak_memory(C.layer_by_layer_predict, row.path, batch)
    else:
        _, peak = C.peak_memory(load_and_run)
    out["peak_bytes"] = peak
    return out


# --------------------------------------------------------------------------
# PyTorch comparison
# --------------------------------------------------------------------------

def torch_comparison(reps, quick):
    try:
        import torch
    except ImportError:
        return None
    import warnings
    torch.set_num_threads(int(THREADS))
    rng = np.random.default_rng(0)
    results = []

    def timed(fn, budget=5.0):
        """Best of up to ``reps`` runs (:func:`benchmarks.timing.best_seconds`), in ms."""
        return 1e3 * best_seconds(fn, reps, budget)

    # 1) a 1024×1024 Linear at batch 32
    x = rng.standard_normal((32, 1024)).astype(np.float32)
    dense = tn.layers.Dense(1024)
    dense(x)
    qdense = C.quantize_dynamic(dense)
    lin = torch.nn.Linear(1024, 1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qlin = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear},
                                                      dtype=torch.qint8)
    xt = torch.from_numpy(x)
    with no_grad(), torch.no_grad():
        results.append({
            "workload": "Linear 1024×1024, batch 32",
            "tn_float": timed(lambda: dense(x)), "tn_int8": timed(lambda: qdense(x)),
            "torch_float": timed(lambda: lin(xt)), "torch_int8": timed(lambda: qlin(xt)),
        })

    # 2) Embedding → LSTM(128) → Dense(1), batch 32 × 40 tokens
    vocab, dim, units, steps = (2000, 64, 128, 40)
    ids = rng.integers(1, vocab, (32, steps))
    m = tn.Sequential([tn.layers.Embedding(vocab, dim), tn.layers.LSTM(units),
                       tn.layers.Dense(1, activation="sigmoid")])
    m.predict(ids)
    qm = C.quantize_dynamic(m)

    class TorchLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(vocab, dim)
            self.lstm = torch.nn.LSTM(dim, units, batch_first=True)
            self.out = torch.nn.Linear(units, 1)

        def forward(self, t):
            _, (h, _) = self.lstm(self.emb(t))
            return torch.sigmoid(self.out(h[-1]))

    tm = TorchLSTM().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tq = torch.ao.quantization.quantize_dynamic(tm, {torch.nn.LSTM, torch.nn.Linear},
                                                    dtype=torch.qint8)
    idt = torch.from_numpy(ids)
    with no_grad(), torch.no_grad():
        results.append({
            "workload": f"Embedding({vocab},{dim}) → LSTM({units}) → Dense(1), batch 32 × {steps}",
            "tn_float": timed(lambda: m(ids)), "tn_int8": timed(lambda: qm(ids)),
            "torch_float": timed(lambda: tm(idt)), "torch_int8": timed(lambda: tq(idt)),
        })
    return {"torch_version": torch.__version__, "rows": results}


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------

def human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return str(n)


def markdown(rows, torch_rows, settings):
    base = rows[0]
    flags = " --quick" if settings["quick"] else ""
    lines = ["# Compression results", "",
             f"Generated by `python benchmarks/compression_report.py{flags}` "
             f"on {settings['machine']} ({settings['cpus']} CPUs, {settings['threads']} thread(s) "
             f"for BLAS, Numba and PyTorch, NumPy {np.__version__}); "
             f"{settings['elapsed']:.0f} s in all.  Load average during the run: "
             f"{settings['load']} (1, 5, 15 min; above ~1 other processes share the 2 cores "
             "and latencies are noisy); compare within a column rather than across runs.", "",
             f"Task: Rotten Tomatoes sentence polarity, {settings['n_train']} training and "
             f"{settings['n_test']} test sentences, vocabulary {settings['vocab']}, "
             f"{settings['maxlen']} tokens.  Model: {settings['arch']}.  Latency: best of up to "
             f"{settings['reps']} forward passes (at most ~5 s per variant) on one batch of "
             f"{settings['batch']}.  "
             "Peak memory: `tracemalloc` peak while loading the checkpoint from disk and running "
             "that batch (memory-mapped file pages are not counted).", "",
             "| variant | params | non-zero | bytes on disk | size vs float32 | test accuracy | "
             "Δ accuracy | latency / batch (ms) | peak memory |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['params']:,} | {r['nonzero']:,} | {human(r['bytes'])} | "
            f"{r['bytes'] / base['bytes']:.2f}× | {r['accuracy']:.4f} | "
            f"{r['accuracy'] - base['accuracy']:+.4f} | {r['latency_ms']:.2f} | "
            f"{human(r['peak_bytes'])} |")
    lines.append("")
    int8 = next((r for r in rows if r["variant"] == "int8 dynamic"), None)
    if int8 is not None:
        lines += [(f"int8 dynamic vs float32 latency in this run: "
                   f"{base['latency_ms'] / int8['latency_ms']:.2f}× faster "
                   f"({base['latency_ms']:.2f} vs {int8['latency_ms']:.2f} ms per batch); "
                   f"int8 GEMM: {settings['int8_kernel']}.  At inference both models run "
                   "the Embedding and the Conv1D as one op (each output step a sum of rows "
                   "of table[u] · w[k], made once for the batch's distinct ids u: "
                   "`F.conv1d_lookup`; int8: `QuantizedConv1D.call_on_lookup`)."), ""]
    notes = [f"- **{r['variant']}**: {r['note']}" for r in rows if r["note"]]
    if notes:
        lines += ["Notes:", ""] + notes + [""]
    if torch_rows:
        lines += ["## int8 inference speed: tinynlp vs PyTorch `quantize_dynamic`", "",
                  f"Same layer sizes, batch 32, {settings['threads']} thread(s) each (PyTorch "
                  f"{torch_rows['torch_version']}"
                  f"; tinynlp's int8 GEMM: {settings['int8_kernel']}; PyTorch's is FBGEMM).  "
                  "Best-of-N ms per "
                  "forward pass; speed-up = float time / int8 time.", "",
                  "| workload | tinynlp float32 | tinynlp int8 | tinynlp speed-up | "
                  "PyTorch float32 | PyTorch int8 | PyTorch speed-up | "
                  "tinynlp int8 / PyTorch int8 |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for t in torch_rows["rows"]:
            lines.append(
                f"| {t['workload']} | {t['tn_float']:.3f} | {t['tn_int8']:.3f} | "
                f"{t['tn_float'] / t['tn_int8']:.2f}× | {t['torch_float']:.3f} | "
                f"{t['torch_int8']:.3f} | {t['torch_float'] / t['torch_int8']:.2f}× | "
                f"{t['tn_int8'] / t['torch_int8']:.2f}× slower |" if t['tn_int8'] >= t['torch_int8']
                else
                f"| {t['workload']} | {t['tn_float']:.3f} | {t['tn_int8']:.3f} | "
                f"{t['tn_float'] / t['tn_int8']:.2f}× | {t['torch_float']:.3f} | "
                f"{t['torch_int8']:.3f} | {t['torch_float'] / t['torch_int8']:.2f}× | "
                f"{t['torch_int8'] / t['tn_int8']:.2f}× faster |")
        lines.append("")
    else:
        lines += ["PyTorch is not installed: the int8 speed comparison was skipped.", ""]
    return "\n".join(lines)


def plot(rows, path):
    """Accuracy against checkpoint size (``tn.plot.accuracy_vs_size``), one marker per
    variant that has its own checkpoint (the lazy / layer-by-layer rows load the float32 one)."""
    shown = [r for r in rows if "layer-by-layer" not in r["variant"]
             and "sharded" not in r["variant"]]
    return tn.plot.accuracy_vs_size(
        [r["variant"] for r in shown], [r["bytes"] for r in shown],
        [r["accuracy"] for r in shown], path=path, ylabel="test accuracy",
        title="Rotten Tomatoes sentiment: accuracy vs checkpoint size")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny run for tests (seconds)")
    ap.add_argument("--output-dir", default=HERE, help="where the .md and .png go")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", default="1",
                    help="threads for BLAS, Numba and PyTorch alike (default 1: on a shared "
                         "machine multi-threaded timings are dominated by waiting)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    tn.random.seed(args.seed)
    quick = args.quick
    vocab, maxlen = (2000, 30) if quick else (10000, 40)
    dim, filters, hidden = (32, 32, 16) if quick else (64, 128, 64)
    epochs, ft_epochs = (1, 1) if quick else (3, 1)
    batch_size, reps = 64, (3 if quick else 30)

    (xtr, ytr), (xte, yte) = load_data(vocab, maxlen, quick)
    batch = xte[:32]
    work = tempfile.mkdtemp(prefix="tn-compress-")

    def log(msg):
        print(f"[{time.perf_counter() - start:6.1f}s] {msg}", flush=True)

    # -- float32 teacher --------------------------------------------------------------
    log(f"training the float32 model ({len(xtr)} sentences, {epochs} epochs)")
    base = compile_model(sentiment_model(vocab, dim, filters, hidden, name="sentiment"))
    base.fit(xtr, ytr, epochs=epochs, batch_size=batch_size, verbose=0)
    rows = []

    def save_dense(model, name):
        path = os.path.join(work, name + ".tnz")
        model.save(path, include_optimizer=False)
        return path, os.path.getsize(path)

    path, size = save_dense(base, "float32")
    rows.append(Row("float32", base, path, size, tn.models.load_model))

    # -- sharded / layer by layer -----------------------------------------------------
    shard_dir = os.path.join(work, "sharded")
    C.save_sharded(base, shard_dir, max_shard_size="256kB" if quick else "1MB")
    rows.append(Row("float32, sharded, lazy (mmap)", base, shard_dir, folder_bytes(shard_dir),
                    lambda p: C.load_sharded(p, lazy=True),
                    note="same weights, loaded with `load_sharded(lazy=True)`: shards are "
                         "memory-mapped, a layer's weights are paged in when it runs"))
    rows.append(Row("float32, layer-by-layer", base, shard_dir, folder_bytes(shard_dir),
                    C.layer_by_layer_predict,
                    note="`layer_by_layer_predict`: one layer's weights in memory at a time "
                         "(latency column: the in-memory model)"))

    # -- pruning ----------------------------------------------------------------------
    include = ["kernel", "embeddings"]
    pruned_ft = {}
    for amount in (0.5, 0.8, 0.9):
        log(f"pruning {int(amount * 100)} %")
        pm = clone(base)
        C.prune_magnitude(pm, amount=amount, scope="layer", include=include)
        path = os.path.join(work, f"pruned{amount}.npz")
        rows.append(Row(f"pruned {int(amount * 100)} %", pm, path, C.save_pruned(pm, path),
                        C.load_pruned,
                        note="" if amount != 0.5 else
                        "pruning: per-layer magnitude pruning of the embedding table and every "
                        "kernel (biases kept); stored as CSR in a compressed .npz"))
        ft = compile_model(clone(base), lr=5e-4)
        C.prune_magnitude(ft, amount=amount, scope="layer", include=include)
        ft.fit(xtr, ytr, epochs=ft_epochs, batch_size=batch_size, verbose=0)
        path = os.path.join(work, f"pruned{amount}_ft.npz")
        rows.append(Row(f"pruned {int(amount * 100)} % + fine-tune", ft, path,
                        C.save_pruned(ft, path), C.load_pruned,
                        note="" if amount != 0.5 else
                        f"fine-tune: {ft_epochs} epoch(s) of Adam (lr 5e-4) with the pruning "
                        "masks enforced after every step"))
        pruned_ft[amount] = ft

    # -- quantization -----------------------------------------------------------------
    log("int8 dynamic quantization")
    q = C.quantize_dynamic(base)
    path, size = save_dense(q, "int8")
    rows.append(Row("int8 dynamic", q, path, size, tn.models.load_model,
                    note="`quantize_dynamic`: int8 weights (per-channel scales), int8×int8→int32 "
                         "products with per-row dynamic activation scales"))
    qs = C.calibrate(C.quantize_dynamic(base), xtr[:512])
    path, size = save_dense(qs, "int8_static")
    rows.append(Row("int8 static (calibrated)", qs, path, size, tn.models.load_model,
                    note="`calibrate` on 512 training sentences: fixed activation scales"))
    qp = C.quantize_dynamic(pruned_ft[0.9])
    path = os.path.join(work, "int8_pruned.npz")
    rows.append(Row("int8 + pruned 90 % (fine-tuned)", qp, path, C.save_pruned(qp, path),
                    C.load_pruned, note="the 90 %-pruned, fine-tuned model quantized; int8 "
                                        "codes stored as CSR"))

    # -- distillation -----------------------------------------------------------------
    s_dim, s_filters, s_hidden = dim // 4, filters // 4, max(hidden // 4, 4)
    log("distilling a quarter-size student")
    student = sentiment_model(vocab, s_dim, s_filters, s_hidden, name="student")
    hist = C.distill(base, student, xtr, ytr, temperature=2.0, alpha=0.5, epochs=epochs,
                     batch_size=batch_size, optimizer=tn.optimizers.Adam(learning_rate=1e-3),
                     verbose=0)
    path, size = save_dense(student, "student")
    rows.append(Row("distilled student (¼ size)", student, path, size, tn.models.load_model,
                    note=f"Embedding({vocab},{s_dim}) → Conv1D({s_filters}) → Dense({s_hidden}); "
                         f"`distill` T=2, α=0.5, {epochs} epochs (final loss "
                         f"{hist.history['loss'][-1]:.3f})"))
    log("training the same student from scratch (for comparison)")
    tn.random.seed(args.seed + 1)
    scratch = compile_model(sentiment_model(vocab, s_dim, s_filters, s_hidden, name="scratch"))
    scratch.fit(xtr, ytr, epochs=epochs, batch_size=batch_size, verbose=0)
    path, size = save_dense(scratch, "scratch")
    rows.append(Row("same student, no teacher", scratch, path, size, tn.models.load_model,
                    note="the student architecture trained on the labels alone"))

    # -- measure ----------------------------------------------------------------------
    log("measuring accuracy, latency and peak memory")
    results = [measure(r, xte, yte, batch, reps) for r in rows]
    log("PyTorch comparison")
    torch_rows = torch_comparison(reps=5 if quick else 50, quick=quick)
    settings = {
        "quick": quick, "machine": f"{platform.processor() or platform.machine()}",
        "cpus": os.cpu_count(), "n_train": len(xtr), "n_test": len(xte), "vocab": vocab,
        "maxlen": maxlen, "batch": len(batch), "reps": reps,
        "arch": f"Embedding({vocab},{dim}) → Conv1D({filters}, 5, relu) → GlobalMaxPooling1D → "
                f"Dropout(0.3) → Dense({hidden}, relu) → Dense(1, sigmoid), {epochs} epochs of "
                f"Adam, batch {batch_size}",
        "elapsed": time.perf_counter() - start, "threads": THREADS,
        "int8_kernel": "a Numba kernel on AVX-512 VNNI (`vpdpbusd`), weights packed when "
                       "quantized" if vnni_available() else
                       "a portable Numba loop (this CPU has no AVX-512 VNNI)",
        "load": ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg")
        else "n/a",
    }
    text = markdown(results, torch_rows, settings)
    os.makedirs(args.output_dir, exist_ok=True)
    md_path = os.path.join(args.output_dir, "compression_results.md")
    with open(md_path, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    png_path = os.path.join(args.output_dir, "compression_accuracy_vs_size.png")
    plot(results, png_path)
    print(text)
    log(f"wrote {md_path} and {png_path}")
    return results


if __name__ == "__main__":
    main()
