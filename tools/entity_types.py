#!/usr/bin/env python3
"""Entity precision / recall / F1 per type, with the scorer's own
normalisation (score.py's entity_set), for a run's events.

    python3 tools/entity_types.py SHARED_TOOLS_DIR GOLD.jsonl EVENTS.ndjson
    e.g. python3 tools/entity_types.py ../shared/tools ../shared/eval/ner-dev/gold.jsonl /tmp/ner/events.ndjson
"""
import collections, sys

sys.path.insert(0, sys.argv[1])
import score  # noqa: E402

gold = score.load_gold(sys.argv[2])
by_file = score.load_events(sys.argv[3])[0]
counts = collections.Counter()
for g in gold:
    if "entities" not in g:
        continue
    ents = (by_file.get(g["file"]) or {}).get("entities", [])
    pred = ents if isinstance(ents, set) else score.entity_set(ents)
    for t in ("PERSON", "ORG", "LOCATION"):
        want = {x for x in g["entities"] if x[0] == t}
        got = {x for x in pred if x[0] == t}
        counts[t, "tp"] += len(want & got)
        counts[t, "pred"] += len(got)
        counts[t, "gold"] += len(want)
for t in ("PERSON", "ORG", "LOCATION"):
    p = counts[t, "tp"] / max(counts[t, "pred"], 1)
    r = counts[t, "tp"] / max(counts[t, "gold"], 1)
    f = 2 * p * r / (p + r) if p + r else 0.0
    print(f"{t:9s} P {p:.3f} R {r:.3f} F1 {f:.3f}  (gold {counts[t, 'gold']})")
