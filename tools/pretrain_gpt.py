"""Pretrain the small GPT on the bundled corpus and ship it as ``tn.pretrained.load("tinygpt")``.

    # the run (about an hour on one quiet core; resumable: run it again after a crash)
    OMP_NUM_THREADS=1 python tools/pretrain_gpt.py --out /work/pretrain_run/run \\
        --cache-dir /work/pretrain_run/cache
    # then the package files and the docs from the finished run
    python tools/pretrain_gpt.py --out /work/pretrain_run/run \\
        --cache-dir /work/pretrain_run/cache --ship

Every option other than those below goes to ``tinynlp pretrain`` (``--quick``,
``--hidden-dim`` ...); without any, the run has the shipped model's settings
(``PretrainConfig()``).  A finished run is not trained again: the command only
reads it back.

``--ship`` writes, under ``--root`` (default: this repository):

* ``tinynlp/pretrained/tinygpt/`` — ``weights.npz`` (float16), ``tokenizer.json``,
  ``config.json`` (the architecture, and the run's summary as ``info``);
* ``docs/pretraining_log.jsonl`` and ``docs/pretraining_curve.png`` — the run's log
  and curve;
* ``docs/pretraining_results.md`` — the numbers (size, tokens seen, wall time and
  load, validation loss and perplexity against the unigram baseline) and
  seeded samples.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tinynlp import cli
from tinynlp.pretrained import load_pretrained
from tinynlp.pretrained.train import export
from tinynlp.tasks.common import quick_mode
from tinynlp.tasks.runs import default_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPTS = ("The", "And God said", "It was a dark and stormy night", "This movie is",
           "Subject: meeting", "LOVE, n.")
SAMPLE = {"max_new_tokens": 48, "temperature": 0.8, "top_k": 40}


def samples(gpt, seed=0):
    """[(prompt, continuation)] sampled with SAMPLE's settings, one seed per prompt."""
    tok = gpt.tokenizer
    out = []
    for k, prompt in enumerate(PROMPTS):
        ids = tok.encode(prompt)
        new = gpt.generate(ids, seed=seed + k, eos_token_id=tok.eos_id, **SAMPLE)[len(ids):]
        out.append((prompt, tok.decode([int(i) for i in new if i != tok.eos_id])))
    return out


def _hms(seconds):
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"


def results_markdown(info, weights_bytes, command, sample_rows):
    cfg = info["training_config"]
    lines = [
        "# tinygpt: the numbers",
        "",
        ("Written by `python tools/pretrain_gpt.py ... --ship` from the finished run (its "
        "`summary.json`); the prose is in [pretraining.md](pretraining.md)."),
        "",
        "| | |",
        "|---|---|",
        f"| command | `{command}` |",
        (f"| architecture | GPT, {cfg['num_layers']} layers, {cfg['num_heads']} heads, width "
        f"{cfg['hidden_dim']}, feed-forward {cfg['intermediate_dim'] or 4 * cfg['hidden_dim']}, "
        f"context {cfg['sequence_length']} tokens, tied embeddings, exact gelu |"),
        f"| parameters | {info['parameters']:,} |",
        f"| vocabulary | {info['vocab_size']:,} byte-level BPE ids |",
        f"| weights shipped | float16, {weights_bytes / 2 ** 20:.1f} MB (`weights.npz`) |",
        f"| training tokens in the corpus | {info['train_tokens']:,} |",
        (f"| tokens seen | {info['tokens_seen']:,} ({info['steps']:,} steps of "
        f"{cfg['batch_size']} × {cfg['sequence_length']}; {info['passes']} passes) |"),
        (f"| optimiser | AdamW, lr {cfg['learning_rate']} (warm-up {cfg['warmup_steps']} steps, "
        f"cosine to {cfg['learning_rate'] * cfg['min_lr_ratio']:g}), weight decay "
        f"{cfg['weight_decay']} on the matrices, β₂ {cfg['beta_2']}, clip {cfg['clipnorm']} |"),
        f"| wall time | {_hms(info['wall_time_s'])} ({info['cpu_time_s']:,.0f} CPU s) |",
        f"| throughput | {info['tokens_per_s']:,.0f} tokens/s |",
        (f"| load | 1-minute load average {info['load1_mean']} on 2 cores, mean over the log "
        f"(a shared machine) |"),
        (f"| validation loss | {info['val_loss']:.3f} nats/token on all "
        f"{info['validation_tokens']:,} validation tokens |"),
        f"| validation perplexity | **{info['val_perplexity']:.1f}** |",
        (f"| unigram baseline | {info['unigram_val_perplexity']:.1f} (add-one unigram of the "
        f"training tokens, same validation tokens) |"),
        "",
        (f"## Samples (temperature {SAMPLE['temperature']}, top-k {SAMPLE['top_k']}, "
        f"{SAMPLE['max_new_tokens']} new tokens, seeds 0–{len(sample_rows) - 1})"),
        "",
    ]
    for prompt, text in sample_rows:
        shown = (prompt + text).replace("\n", " ⏎ ").replace("|", "\\|")
        lines.append(f"- **{prompt}**{shown[len(prompt):]}")
    return "\n".join(lines) + "\n"


def ship(out, root, command):
    folder = os.path.join(root, "tinynlp", "pretrained", "tinygpt")
    export(out, folder, dtype="float16", extra_info={"command": command})
    for name in os.listdir(folder):      # atomic writes create 0600 files; these are package data
        os.chmod(os.path.join(folder, name), 0o644)
    docs = os.path.join(root, "docs")
    os.makedirs(docs, exist_ok=True)
    shutil.copyfile(os.path.join(out, "log.jsonl"), os.path.join(docs, "pretraining_log.jsonl"))
    shutil.copyfile(os.path.join(out, "curve.png"), os.path.join(docs, "pretraining_curve.png"))
    gpt = load_pretrained(folder)
    text = results_markdown(gpt.pretrained_info,
                            os.path.getsize(os.path.join(folder, "weights.npz")), command,
                            samples(gpt))
    with open(os.path.join(docs, "pretraining_results.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return folder


def default_out(options):
    """The run folder `tinynlp pretrain` uses when not given ``--out``."""
    quick = "--quick" in options or quick_mode()
    return str(default_folder("pretrain-quick" if quick else "pretrain"))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ship", action="store_true", help="write the package files and docs")
    ap.add_argument("--root", default=ROOT, help="where --ship writes (default: this checkout)")
    ours, rest = ap.parse_known_args(argv)
    code = cli.main(["pretrain", *rest])
    if code != 0:
        return code
    if ours.ship:
        out = rest[rest.index("--out") + 1] if "--out" in rest else default_out(rest)
        command = " ".join(["python tools/pretrain_gpt.py", *rest])
        folder = ship(out, ours.root, command)
        print(f"shipped {folder}")
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            info = json.load(f)["info"]
        print(f"validation perplexity {info['val_perplexity']} "
              f"(unigram {info['unigram_val_perplexity']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
