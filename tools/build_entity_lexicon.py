#!/usr/bin/env python3
"""Builds the entity lexicons of the `entities` stage from CoNLL-format files.

    python3 tools/build_entity_lexicon.py ../shared/data/ner/conll2003/eng.train \
        ../shared/data/ner/wikigold/wikigold.conll.txt

Writes (standard library only):
  config/lexicons/entity_names.tsv   name, then counts as PER ORG LOC MISC
  config/lexicons/capitalised_common.tsv  capitalised words seen outside
      entities (not at sentence start) with their counts: "Monday", "Minister"

Input: one token per line, NER tag in the last column (IOB1 or IOB2), blank
line between sentences, -DOCSTART- lines ignored. Point it at your own
annotations to retrain.
"""
import collections
import os
import sys

TYPES = ["PER", "ORG", "LOC", "MISC"]


def sentences(path):
    sent = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-":
                if sent:
                    yield sent
                sent = []
                continue
            sent.append((parts[0], parts[-1]))
    if sent:
        yield sent


def main(paths):
    names = collections.defaultdict(lambda: collections.Counter())
    common = collections.Counter()
    for path in paths:
        for sent in sentences(path):
            current, ctype = [], None
            for i, (tok, tag) in enumerate(sent):
                kind = tag[2:] if tag != "O" else None
                begins = tag.startswith("B-") or kind != ctype
                if current and (kind is None or begins):
                    names[" ".join(current)][ctype] += 1
                    current, ctype = [], None
                if kind:
                    current.append(tok)
                    ctype = kind
                elif i > 0 and tok[:1].isupper() and not tok.isupper():
                    common[tok] += 1
            if current:
                names[" ".join(current)][ctype] += 1
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "config", "lexicons")
    with open(os.path.join(root, "entity_names.tsv"), "w", encoding="utf-8") as out:
        out.write("# name\tPER\tORG\tLOC\tMISC  (built by tools/build_entity_lexicon.py)\n")
        for name in sorted(names):
            c = names[name]
            out.write(name + "\t" + "\t".join(str(c[t]) for t in TYPES) + "\n")
    with open(os.path.join(root, "capitalised_common.tsv"), "w", encoding="utf-8") as out:
        out.write("# capitalised word seen outside entities\tcount  (built by tools/build_entity_lexicon.py)\n")
        for tok, n in sorted(common.items()):
            if n >= 2:
                out.write(f"{tok}\t{n}\n")
    print(f"{len(names)} names, {sum(1 for n in common.values() if n >= 2)} common capitalised words", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
