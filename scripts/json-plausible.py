#!/usr/bin/env python3
"""Checks a corrflow JSON output strictly and for plausibility (adversarial pass, adv18).

usage: scripts/json-plausible.py FILE   -> exit 0 when plausible, 1 with one line per problem.

Strict: no NaN/Infinity (json's parse_constant refuses them). Plausible: every probability
(`accuracy`, `p_correct`, `prior`, a confusion row's `p`, `*_accuracy`, `mean_share`) in [0, 1];
a confusion row's `p` sums to 1 (to 1e-9 per entry: the rows are normalised counts or a
normalised Gaussian argmax); `prior`s of a per-class list sum to 1; a `stderr` is not negative;
an `accuracy` beside a `per_class` list equals Σ prior·p_correct; `network_accuracy` equals the
measured confusion's diagonal weighted by `class_counts`. Nulls are listed on stderr (not
counted: some are null by design, RELIABILITY.md).
"""
import json
import sys

PROBS = {"accuracy", "p_correct", "prior", "network_accuracy", "train_accuracy",
         "test_accuracy", "mean_share"}


def refuse(c):
    raise ValueError(f"non-finite constant {c}")


def walk(x, path, bad, nulls):
    if isinstance(x, dict):
        for k, v in x.items():
            p = f"{path}.{k}"
            if v is None:
                nulls.append(p)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                if (k in PROBS or k.endswith("_accuracy")) and not 0.0 <= v <= 1.0:
                    bad.append(f"{p} = {v} outside [0, 1]")
                if k.endswith("stderr") and v < 0:
                    bad.append(f"{p} = {v} negative")
            walk(v, p, bad, nulls)
        row = x.get("p")
        if isinstance(row, list) and row and all(isinstance(v, (int, float)) for v in row):
            if any(not 0.0 <= v <= 1.0 for v in row):
                bad.append(f"{path}.p has an entry outside [0, 1]: {row}")
            if abs(sum(row) - 1.0) > 1e-9 * len(row):
                bad.append(f"{path}.p sums to {sum(row)!r}, not 1")
        per = x.get("per_class")
        if isinstance(per, list) and per and isinstance(x.get("accuracy"), (int, float)):
            if all(isinstance(c.get("prior"), (int, float)) and isinstance(c.get("p_correct"), (int, float)) for c in per):
                total = sum(c["prior"] for c in per)
                acc = sum(c["prior"] * c["p_correct"] for c in per)
                if abs(total - 1.0) > 1e-9 * len(per):
                    bad.append(f"{path}.per_class priors sum to {total!r}")
                if abs(acc - x["accuracy"]) > 1e-9:
                    bad.append(f"{path}.accuracy {x['accuracy']!r} != Σ prior·p_correct {acc!r}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            if v is None:
                nulls.append(f"{path}[{i}]")
            walk(v, f"{path}[{i}]", bad, nulls)


def main():
    try:
        doc = json.load(open(sys.argv[1]), parse_constant=refuse)
    except (ValueError, OSError) as e:
        print(f"not strict JSON: {e}")
        return 1
    bad, nulls = [], []
    walk(doc, "", bad, nulls)
    counts, conf = doc.get("class_counts"), doc.get("measured_confusion")
    if isinstance(counts, list) and isinstance(conf, dict) and isinstance(doc.get("network_accuracy"), (int, float)):
        rows = conf.get("rows", [])
        n = sum(counts)
        if n and len(rows) == len(counts):
            acc = sum(c * r["p"][r["class"]] for c, r in zip(counts, rows)) / n
            if abs(acc - doc["network_accuracy"]) > 1e-9:
                bad.append(f"network_accuracy {doc['network_accuracy']!r} != counts·diag {acc!r}")
    for p in nulls:
        print(f"null: {p}", file=sys.stderr)
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
