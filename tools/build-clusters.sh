#!/usr/bin/env bash
# Rebuilds config/models/brown-clusters.txt, the word clusters the entity
# tagger uses as features, from spaCy's English lookup tables:
#   spacy-lookups-data 1.0.5 (PyPI, MIT licence, ExplosionAI GmbH),
#   spacy_lookups_data/data/en_lexeme_cluster.json.gz
# spaCy stores each Brown cluster as an integer whose lowest bit is the first
# step of the path; this writes the usual `bits<TAB>word` form (the first two
# columns of Percy Liang's brown-cluster `paths` output), so clusters learnt
# with that tool on your own text can replace the file (then retrain).
#   tools/build-clusters.sh            (needs pip and python3; run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" spacy-lookups-data==1.0.5
python3 - "$work"/spacy_lookups_data-1.0.5-*.whl config/models/brown-clusters.txt <<'PY'
import gzip, io, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    table = json.load(gzip.open(io.BytesIO(z.read("spacy_lookups_data/data/en_lexeme_cluster.json.gz"))))
rows = sorted((bin(v)[2:][::-1], w) for w, v in table.items() if v and not any(c.isspace() for c in w))
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for bits, word in rows:
        f.write(f"{bits}\t{word}\n")
print(f"wrote {sys.argv[2]}: {len(rows)} words", file=sys.stderr)
PY
