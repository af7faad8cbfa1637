#!/usr/bin/env bash
# Whole-pipeline throughput: `gleaner ingest` of the dev set copied N times
# (each copy made distinct by a first and a last line, so most are
# near-duplicates: the dedup index is exercised), documents per second and
# peak RSS.   tools/bench.sh [SHARED_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
n=${2:-10}
cargo build --release --quiet
work=$(mktemp -d)
mkdir -p "$work/in"
for r in $(seq 1 "$n"); do
  for f in "$shared"/eval/dev/files/*.txt; do
    b=$(basename "$f" .txt)
    { echo "Copy $r"; cat "$f"; echo "Trailer $r $b"; } > "$work/in/${r}_$b.txt"
  done
done
echo "$(ls "$work/in" | wc -l) files, $(du -sh "$work/in" | cut -f1)"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M KB" \
  ./target/release/gleaner ingest --data "$work/out" "$work/in" 2>&1 | tail -2
rm -rf "$work"
