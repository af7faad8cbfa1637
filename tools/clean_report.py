#!/usr/bin/env python3
"""Per-file cleaning report: which gold body 4-grams were lost, which extra
4-grams were kept. For developing the `clean` stage.

    python3 tools/clean_report.py GOLD.jsonl EVENTS.ndjson [FILE ...]
"""
import collections, json, re, sys, os
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools"))

def words(t):
    import unicodedata
    t = unicodedata.normalize("NFKC", t or "").lower()
    t = re.sub(r"['\u2019\u2018\u02bc\u0060\u00b4]", "", t)
    return [w for w in re.split(r"[\W_]+", t) if w]

def grams(t, n=4):
    w = words(t)
    return collections.Counter(tuple(w[i:i+n]) for i in range(len(w)-n+1))

gold = {}
for l in open(sys.argv[1]):
    g = json.loads(l)
    if "body" in g: gold[g["file"]] = g["body"]
rows = []
for l in open(sys.argv[2]):
    e = json.loads(l)
    if not e["type"].startswith("document.") or "text" not in e: continue
    f = os.path.basename(e["source"]["path"])
    if f not in gold: continue
    if len(sys.argv) > 3 and f not in sys.argv[3:]: continue
    G, T = grams(gold[f]), grams(e["text"])
    tp = sum((G & T).values())
    p = tp / max(1, sum(T.values())); r = tp / max(1, sum(G.values()))
    f1 = 2*p*r/max(1e-9, p+r)
    rows.append((f1, f, p, r, e))
rows.sort()
for f1, f, p, r, e in rows:
    print(f"{f}  F1 {f1:.3f}  P {p:.3f}  R {r:.3f}  lang {e.get('language',{}) and e['language'].get('code')}")
    if len(sys.argv) > 3:
        G = grams(gold[f])
        print("--- kept but not in gold:")
        for para in e["text"].split("\n\n"):
            pg = grams(para)
            if pg and sum((pg & G).values()) / sum(pg.values()) < 0.5:
                print("   +", para[:160])
        print("--- gold paragraphs lost:")
        T = grams(e["text"])
        for para in gold[f].split("\n"):
            pg = grams(para)
            if pg and sum((pg & T).values()) / sum(pg.values()) < 0.5:
                print("   -", para[:160])
        print("--- removed:", collections.Counter(b["reason"] for b in e["boilerplate_removed"]))
