"""Train the byte-level BPE tokenizer on the pretraining corpus and save it.

    python tools/train_bpe.py                              # 4096 ids -> bpe-4096.json
    python tools/train_bpe.py --vocab-size 8192 --out my_bpe.json
    python tools/train_bpe.py --no-dialogue-specials       # only <|endoftext|>

Trains ``tinynlp.text.BPETokenizer`` on the training split of
``tinynlp.datasets.load_pretraining_corpus`` (min_frequency 2), saves it as
JSON, and prints the training time, the load (``os.getloadavg``) it ran
under, and bytes per token on the corpus' validation split.

Special tokens (the last ids, in this order):

* ``<|endoftext|>``: separates documents when they are concatenated for
  pretraining (GPT-2's convention); ``tok.eos_id``.
* ``<|user|>`` and ``<|bot|>`` (unless ``--no-dialogue-specials``): reserved
  for the dialogue fine-tuning of the pretrained model, to mark whose turn
  starts.  They never occur in the pretraining text, so their embeddings are
  learnt only during fine-tuning; reserving them now costs two ids and
  avoids re-training the tokenizer (and the model) when dialogue comes.  A
  fine-tuning recipe that prefers plain ``User:`` / ``Bot:`` text can ignore
  them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tinynlp.data.corpus import load_pretraining_corpus  # noqa: E402
from tinynlp.text import BPETokenizer  # noqa: E402

DIALOGUE_SPECIALS = ("<|user|>", "<|bot|>")


def main(argv=None) -> BPETokenizer:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--min-frequency", type=int, default=2)
    ap.add_argument("--out", default=None, help="output JSON (default bpe-<vocab-size>.json)")
    ap.add_argument("--sources", nargs="*", default=None,
                    help="corpus sources to train on (default: all)")
    ap.add_argument("--no-dialogue-specials", action="store_true",
                    help="only <|endoftext|> as a special token")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    out = args.out or f"bpe-{args.vocab_size}.json"
    specials = ("<|endoftext|>",) + (() if args.no_dialogue_specials else DIALOGUE_SPECIALS)
    verbose = 0 if args.quiet else 1

    t0 = time.perf_counter()
    train = load_pretraining_corpus("train", sources=args.sources, verbose=verbose)
    val = load_pretraining_corpus("validation", sources=args.sources, verbose=verbose)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    tok = BPETokenizer.train(train, args.vocab_size, special_tokens=specials,
                             min_frequency=args.min_frequency, verbose=verbose)
    t_train = time.perf_counter() - t0
    cpu_train = time.process_time() - cpu0
    tok.save(out)
    t0 = time.perf_counter()
    n_tokens = sum(len(ids) for ids in tok.encode_batch(val, allowed_special="none"))
    t_enc = time.perf_counter() - t0
    n_bytes = sum(len(t.encode("utf-8")) for t in val)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"corpus: {len(train):,} training documents, "
          f"{sum(len(t.encode('utf-8')) for t in train) / 1e6:.1f} MB (loaded in {t_load:.1f} s)")
    print(f"trained {tok.vocab_size} ids ({len(tok.merges)} merges, specials "
          f"{list(tok.special_tokens)}) in {t_train:.1f} s wall, {cpu_train:.1f} s CPU; "
          f"load average {load}")
    print(f"validation: {n_bytes / 1e6:.2f} MB -> {n_tokens:,} tokens, "
          f"{n_bytes / n_tokens:.2f} bytes/token (encoded in {t_enc:.1f} s)")
    print(f"saved {out}")
    return tok


if __name__ == "__main__":
    main()
