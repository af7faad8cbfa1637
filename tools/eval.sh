#!/usr/bin/env bash
# Scores the release build on the evaluation sets:
#   tools/eval.sh [SHARED_DIR] [SET...]      (default: ../shared, all sets)
# Each set is ingested into a fresh temp data folder in gold order and scored
# with SHARED_DIR/tools/score.py.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
shift || true
sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(dev samples lang-dev ner-dev)
cargo build --release --quiet
out=$(mktemp -d)
for s in "${sets[@]}"; do
  files="$shared/eval/$s/files"
  [ "$s" = samples ] && files="$shared/samples"
  echo "== $s"
  ./target/release/gleaner ingest --data "$out/$s" "$files" 2>&1 | tail -1 || true
  python3 "$shared/tools/score.py" --gold "$shared/eval/$s/gold.jsonl" --events "$out/$s/events.ndjson" \
    | grep -vE 'n/a|^---|^metric|^$|^gold files|^events:'
done
echo "events in $out"
