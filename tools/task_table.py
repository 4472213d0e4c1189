"""Train every task recipe with its default settings and write ``docs/task_results.md``.

    python tools/task_table.py                       # everything, default epochs
    python tools/task_table.py --epochs 2            # the same number of epochs everywhere
    python tools/task_table.py --epochs translation=4,lm=2   # only these overridden
    python tools/task_table.py --only tagging,lm     # some tasks (the file is rewritten)
    python tools/task_table.py --only translation --keep-others
                                                     # re-measure these rows, keep the rest
    TINYNLP_QUICK=1 python tools/task_table.py --out /tmp/t.md   # smoke test
    python tools/task_table.py --from-results runs/a/results.json runs/b/results.json
                                                     # no training: one table from saved runs

One row per (task, model): the test metric, the task's simple baseline
(majority class, most frequent tag, unigram LM, copy-the-source) and the
wall-clock time of training plus evaluation.  Every number in the table is
produced by this script; nothing is typed in.  The table is rewritten after
every task, so a long run leaves partial results behind if interrupted.

``--threads`` caps the BLAS threads (default 1: the recurrent models do many
small matrix products, for which extra threads cost more than they bring,
especially on a machine shared with other jobs).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: where the section written by tools/dialogue_table.py starts (kept when the file is rewritten)
SECTION_BEGIN = "<!-- dialogue:begin -->"

# (task key, model, label shown in the table)
JOBS = [
    ("sentiment", "rnn"), ("sentiment", "lstm"), ("sentiment", "cnn"),
    ("classification", "avg"), ("classification", "cnn"),
    ("tagging", "bilstm"),
    ("lm", "lstm"), ("lm", "rnn"), ("lm", "gpt"), ("lm", "word"),
    ("translation", "lstm"), ("translation", "attention"), ("translation", "transformer"),
]
TASK_NAMES = {"sentiment": "sentiment (Rotten Tomatoes)",
              "classification": "genre classification (Brown, 15 classes)",
              "tagging": "POS tagging (Brown, 12 universal tags)",
              "lm": "language model",
              "translation": "translation es→en (Bible verses ≤ 20 words)"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", default=None,
                   help="N: train every model for N epochs; or task=N,task:model=N,...: "
                        "override only those (default: each recipe's own epochs)")
    p.add_argument("--only", default=None,
                   help="comma-separated task keys (sentiment, classification, tagging, lm, "
                        "translation) or task:model pairs")
    p.add_argument("--out", default=str(ROOT / "docs" / "task_results.md"))
    p.add_argument("--runs", default=str(ROOT / "runs" / "task_table"),
                   help="where the trained models are saved")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-others", action="store_true",
                   help="with --only: keep the rows and notes of the other jobs from the "
                        "existing --out file (its commands and dates are kept in the header)")
    p.add_argument("--from-results", nargs="+", default=None, metavar="RESULTS_JSON",
                   help="train nothing: write the table from the results.json files of "
                        "earlier runs (later files win for the same task and model)")
    return p.parse_args(argv)


def parse_epochs(spec):
    """``None`` → {}; ``"3"`` → {"*": 3}; ``"lm=2,translation:lstm=4"`` → a dict."""
    if spec is None:
        return {}
    spec = str(spec).strip()
    if spec.isdigit():
        return {"*": int(spec)}
    out = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit():
            raise SystemExit(f"--epochs: expected N or task=N,..., got {spec!r}")
        out[key.strip()] = int(value)
    return out


def epochs_for(overrides, task, model):
    for key in (f"{task}:{model}", task, "*"):
        if key in overrides:
            return overrides[key]
    return None


def _selected(only):
    if not only:
        return list(JOBS)
    keys = [k.strip() for k in only.split(",") if k.strip()]
    jobs = [j for j in JOBS if j[0] in keys or f"{j[0]}:{j[1]}" in keys]
    if not jobs:
        raise SystemExit(f"--only {only!r} selects no job; jobs: "
                         + ", ".join(f"{t}:{m}" for t, m in JOBS))
    return jobs


def _run(task, model, epochs, out, seed):
    from tinynlp.tasks import classification, language_model, sentiment, tagging, translation
    module = {"sentiment": sentiment, "classification": classification, "tagging": tagging,
              "lm": language_model, "translation": translation}[task]
    kwargs = {"out": out, "verbose": 0, "seed": seed}
    if epochs is not None:
        kwargs["epochs"] = epochs
    return module.train(model, **kwargs)


def _fmt(metric, value):
    if "BLEU" in metric:  # the task reports BLEU ×100 already
        return f"{value:.2f}"
    if metric == "perplexity":
        return f"{value:.2f}"
    return f"{value:.3f}"


def _rows(task, result, seconds):
    label = TASK_NAMES[task]
    if task == "lm":
        label += f" ({result.extra.get('data', '')})"
    rows = [(label, result.model, result.metric, _fmt(result.metric, result.value),
             result.baseline_name, _fmt(result.metric, result.baseline), seconds)]
    if result.extra.get("sacrebleu") is not None:
        # the same beam output, detokenized, scored by sacreBLEU against the raw references
        metric = "sacreBLEU (detokenized, lowercased, 13a)"
        rows.append((label, result.model, metric, _fmt("BLEU", result.extra["sacrebleu"]),
                     result.baseline_name, _fmt("BLEU", result.extra["sacrebleu_copy"]), None))
    if "macro_f1" in result.extra:
        rows.append((label, result.model, "macro-F1", _fmt("f1", result.extra["macro_f1"]),
                     result.baseline_name, _fmt("f1", result.extra["baseline_macro_f1"]),
                     None))
    return rows


def _notes(task, result):
    e = result.extra
    if task == "tagging":
        return (f"tagging ({result.model}): accuracy on test words never seen in training "
                f"{e['unseen_word_accuracy']:.3f} (most frequent tag: "
                f"{e['baseline_unseen_word_accuracy']:.3f}); {e['train_sentences']} training "
                f"sentences, {e['epochs']} epochs")
    if task == "translation":
        sacre = (f"; sacreBLEU signature `{e['sacrebleu_signature']}`"
                 if e.get("sacrebleu_signature") else "")
        arch = f"{e['architecture']}; " if e.get("architecture") else ""
        return (f"{result.model}: {arch}greedy BLEU ×100 {e['greedy_bleu']:.2f}; beam: "
                f"{e['bleu_detail']}; {e['train_pairs']} training pairs, {e['epochs']} epochs"
                + sacre)
    if task == "lm":
        arch = (f"{e['architecture']}, {e['params']:,} parameters; sliding-window "
                "perplexity over the same test streams and tokens; "
                if e.get("architecture") else "")
        return (f"{result.model}: {arch}{e['bits_per_token']:.3f} bits per token on "
                f"{e['test_tokens']} test tokens; {e['train_tokens_seen']} training tokens "
                f"read ({e['epochs']} epochs)")
    if task == "classification":
        return f"classification ({result.model}): {e['epochs']} epochs"
    if task == "sentiment":
        return f"sentiment ({result.model}): {e['epochs']} epochs"
    return None


def _duration(seconds):
    if seconds is None:
        return ""
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _describe_epochs(raw):
    overrides = sorted({(r["task"], r["model_key"], r["epochs_override"]) for r in raw
                        if r.get("epochs_override") is not None})
    if not overrides:
        return "each recipe's default epochs"
    return ("each recipe's default epochs except **" + ", ".join(
        f"{t}:{m} {e}" for t, m, e in overrides) + " epoch(s)** (`--epochs` override)")


def _note_key(note):
    """What a note is about: the text before its first colon ("tagging (bilstm)")."""
    return note.split(":", 1)[0].strip()


def parse_previous(text):
    """The parts of a table written by this script that ``--keep-others`` carries over:
    ``(commands, dates, rows, notes)``; rows are ``((task, model), line)``."""
    lines = text.split("\n")
    produced = next((line for line in lines if line.startswith("Produced by ")), "")
    commands = [c for c in re.findall(r"`([^`]+)`", produced) if c.startswith("python ")]
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", produced)
    rows = []
    for line in lines:
        if line.startswith("| ") and not line.startswith("| task |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append(((cells[0], cells[1]), line))
    notes = [line[2:] for line in lines if line.startswith("- ")]
    return commands, dates, rows, notes


def _merge(old_items, new_items, key, group=None):
    """Old items with the new ones in place of those sharing their key.  New keys that
    were not there before go after the last item of their ``group`` (e.g. a new model
    beside the other rows of its task), else at the end."""
    old_keys = {key(item) for item in old_items}
    replacing = [item for item in new_items if key(item) in old_keys]
    adding = [item for item in new_items if key(item) not in old_keys]
    new_keys = {key(item) for item in replacing}
    out, placed = [], False
    for item in old_items:
        if key(item) in new_keys:
            if not placed:
                out += replacing
                placed = True
        else:
            out.append(item)
    for item in adding:
        g = None if group is None else group(item)
        at = max((i for i, o in enumerate(out) if g is not None and group(o) == g), default=None)
        if at is None:
            out.append(item)
        else:
            out.insert(at + 1, item)
    return out


def write_table(path, raw, commands, threads, finished, previous=None):
    """Write the markdown table of ``raw`` results; ``previous`` (from
    :func:`parse_previous`) supplies the rows and notes of jobs not in ``raw``."""
    from tinynlp.tasks.common import TaskResult

    order = {job: i for i, job in enumerate(JOBS)}
    raw = sorted(raw, key=lambda r: order.get((r["task"], r["model_key"]), len(order)))
    rows, notes = [], []
    for r in raw:
        fields = {k: r[k] for k in ("task_name", "model", "metric", "value", "baseline_name",
                                    "baseline", "extra", "artifacts")}
        fields["task"] = fields.pop("task_name")
        result = TaskResult(**fields)
        load = r.get("load_1min")
        if load is not None and r.get("load_1min_end") is not None:
            load = (load, r["load_1min_end"])
        rows += [(*row, load) for row in _rows(r["task"], result, r["seconds"])]
        notes.append(_notes(r["task"], result))
    quick = any(r.get("quick") for r in raw)
    dates = sorted({r["date"] for r in raw})
    epochs_text = _describe_epochs(raw)
    unrecorded_load = any(r.get("load_1min") is None for r in raw)
    row_lines = []
    for task, model, metric, value, base, base_value, seconds, load in rows:
        load_text = ("–" if load is None else
                     f"{load[0]:.1f} → {load[1]:.1f}" if isinstance(load, tuple) else
                     f"{load:.1f}")
        row_lines.append(((task, model),
                          f"| {task} | {model} | {metric} | {value} | {base} | {base_value} | "
                          f"{_duration(seconds)} | {load_text if seconds is not None else ''} |"))
    notes = [n for n in notes if n]
    if previous is not None:
        old_commands, old_dates, old_rows, old_notes = previous
        commands = [c for c in old_commands if c not in commands] + list(commands)
        dates = sorted(set(old_dates) | set(dates))
        row_lines = _merge(old_rows, row_lines, key=lambda item: item[0],
                           group=lambda item: item[0][0])
        task_of = {model: task for (task, model), _ in row_lines}   # "char gpt" → its task
        notes = _merge(old_notes, notes, key=_note_key,
                       group=lambda note: task_of.get(_note_key(note)))
        epochs_text = "each row's epochs are in the notes below"
        unrecorded_load = unrecorded_load or any(
            line.rstrip().endswith("| – |") for _, line in row_lines)
    lines = [
        "# Task results",
        "",
        "Produced by " + " and ".join(f"`{c}`" for c in commands)
        + (" in QUICK MODE (TINYNLP_QUICK=1: tiny data, not real results)" if quick else "")
        + f" on {', '.join(dates)}; {epochs_text}.",
        (f"Machine: {os.cpu_count()} CPU cores, {threads} BLAS thread(s), Python "
         f"{platform.python_version()}. Times are wall-clock, training plus test evaluation; "
         "*load* is the 1-minute load average when the row's training began (→ when it "
         "ended, where recorded; above ~1 other processes shared the 2 cores and the time "
         "includes waiting for them)"
         + ("; rows without it were trained before it was recorded, while other jobs "
            "shared the machine." if unrecorded_load else ".")),
        "",
        "| task | model | metric | value | baseline | baseline value | train time | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [line for _, line in row_lines]
    lines += ["", "Notes (also from the run):", ""]
    lines += [f"- {n}" for n in notes if n]
    lines += ["", ("Baselines: *majority class* predicts the most frequent training class; "
              "*most frequent tag* gives each word the tag it had most often in training "
              "(unknown words: the most frequent tag overall); *unigram* predicts every "
              "token with its training frequency (add-one smoothed); *copy source* offers "
              "the Spanish sentence as its own English translation."),
              "Perplexity: lower is better; the others: higher is better.",
              "", f"Finished {finished:%Y-%m-%d %H:%M}." if finished else "(run in progress)",
              ""]
    if Path(path).is_file():       # the dialogue section (tools/dialogue_table.py) stays
        old = Path(path).read_text(encoding="utf-8")
        if SECTION_BEGIN in old:
            lines += [old[old.index(SECTION_BEGIN):].rstrip("\n"), ""]
    from tinynlp.atomic import atomic_write  # after main() has fixed the thread pools

    text = "\n".join(lines)
    atomic_write(path, lambda f: f.write(text), mode="w")


def _command(args):
    return "python tools/task_table.py" + (f" --epochs {args.epochs}" if args.epochs else "") + \
        (f" --only {args.only}" if args.only else "") + \
        (" --keep-others" if args.keep_others else "")


def main(argv=None):
    args = parse_args(argv)
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = \
        os.environ["MKL_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, str(ROOT))
    if args.from_results:
        merged, commands = {}, []
        for f in args.from_results:
            saved = json.loads(Path(f).read_text(encoding="utf-8"))
            commands += [c for c in saved["commands"] if c not in commands]
            for r in saved["results"]:
                merged[(r["task"], r["model_key"])] = r
        write_table(args.out, list(merged.values()), commands, saved["threads"],
                    datetime.datetime.now())
        print(f"wrote {args.out}")
        return 0
    jobs = _selected(args.only)
    overrides = parse_epochs(args.epochs)
    previous = None
    if args.keep_others:
        if not args.only:
            raise SystemExit("--keep-others needs --only (which rows to re-measure)")
        if Path(args.out).is_file():
            previous = parse_previous(Path(args.out).read_text(encoding="utf-8"))
    quick = os.environ.get("TINYNLP_QUICK", "") not in ("", "0", "false", "False")
    raw = []
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    for task, model in jobs:
        print(f"== {task} {model} ...", flush=True)
        epochs = epochs_for(overrides, task, model)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        t0 = time.perf_counter()
        result = _run(task, model, epochs, str(runs / f"{task}_{model}"), args.seed)
        seconds = time.perf_counter() - t0
        load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        print(result, f"\n  ({_duration(seconds)})", flush=True)
        d = result.to_dict()
        d["task_name"] = d.pop("task")
        d["extra"] = {k: v for k, v in d["extra"].items() if k != "confusion_matrix"}
        raw.append({"task": task, "model_key": model, "seconds": seconds, "load_1min": load,
                    "load_1min_end": load_end,
                    "epochs_override": epochs, "quick": quick,
                    "date": f"{datetime.date.today():%Y-%m-%d}", **d})
        (runs / "results.json").write_text(json.dumps(
            {"commands": [_command(args)], "threads": args.threads, "results": raw},
            indent=1, ensure_ascii=False), encoding="utf-8")
        write_table(args.out, raw, [_command(args)], args.threads, None, previous)
    write_table(args.out, raw, [_command(args)], args.threads, datetime.datetime.now(),
                previous)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
