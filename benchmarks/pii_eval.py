"""Precision and recall of the personal-data recognizers, per entity type, on the labelled complaint set.

Usage: .venv/bin/python benchmarks/pii_eval.py [--samples 5000] [--seed 20261122] [--errors N]

The set is made by ``tests/fixtures/pii_corpus.py`` (realistic 12345 complaint texts with labelled
entities, traps that look like identifiers and fail their checks, and negatives), so the figures
can be reproduced anywhere. Findings come from the column scanner (``scan_texts``), which reports
what Presidio's analyzer reports (tests hold the two equal).

Matching: identifiers (every type but PERSON and CN_ADDRESS) count only when type, start and end are
exact. PERSON and CN_ADDRESS are printed twice: exact spans, and "overlap" (a finding of the type
that overlaps a labelled span of the type matches it; each label and finding is matched once), as
where a name or an address starts is a matter of degree while whether it was masked is not.
``--errors N`` prints up to N missed labels and N false findings per type.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from datahub.privacy.scanner import Finding, scan_texts  # noqa: E402
from tests.fixtures.pii_corpus import ENTITY_TYPES, Sample, generate  # noqa: E402

FUZZY = ("PERSON", "CN_ADDRESS")
TARGETS = {
    **dict.fromkeys(("CN_RESIDENT_ID", "CN_USCC", "CN_BANK_CARD"), (0.99, 0.99)),
    **dict.fromkeys(
        ("CN_MOBILE", "CN_LANDLINE", "EMAIL_ADDRESS", "IP_ADDRESS", "CN_LICENSE_PLATE"), (0.98, 0.98)
    ),
    "PERSON": (0.85, 0.90),
    "CN_ADDRESS": (None, 0.85),
}


def _match(labels: list[tuple[int, int]], found: list[tuple[int, int]], overlap: bool) -> int:
    """How many labels are matched by a finding (one to one)."""
    if not overlap:
        return len(set(labels) & set(found))
    used: set[int] = set()
    matched = 0
    for start, end in labels:
        for i, (s, e) in enumerate(found):
            if i not in used and s < end and start < e:
                used.add(i)
                matched += 1
                break
    return matched


def evaluate(samples: list[Sample], findings: dict[str, list[Finding]], errors: int = 0) -> dict[str, dict]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    shown: dict[str, list[str]] = defaultdict(list)
    for sample in samples:
        found = findings.get(sample.text, [])
        for entity in ENTITY_TYPES:
            labels = [(e.start, e.end) for e in sample.entities if e.type == entity]
            spans = [(f.start, f.end) for f in found if f.type == entity]
            c = counts[entity]
            c["labels"] += len(labels)
            c["found"] += len(spans)
            c["exact"] += _match(labels, spans, overlap=False)
            c["overlap"] += _match(labels, spans, overlap=True)
            if errors and len(shown[entity]) < 2 * errors:
                missed = [sample.text[s:e] for s, e in labels if (s, e) not in spans]
                extra = [sample.text[s:e] for s, e in spans if (s, e) not in labels]
                if missed or extra:
                    shown[entity].append(f"{sample.id} missed={missed} extra={extra} | {sample.text}")
    for entity, lines in shown.items():
        print(f"--- {entity}")
        for line in lines:
            print("   ", line)
    return {entity: dict(c) for entity, c in counts.items()}


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--errors", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    samples = generate(args.samples, seed=args.seed)
    generated = time.perf_counter()
    findings = scan_texts(pl.Series([s.text for s in samples]))
    scanned = time.perf_counter()
    counts = evaluate(samples, findings, args.errors)
    print(
        f"{len(samples):,} samples (seed {args.seed}), generated in {generated - started:.1f} s, "
        f"scanned in {scanned - generated:.2f} s"
    )
    print(f"{'entity':18} {'labels':>7} {'found':>7} {'precision':>10} {'recall':>7}  target (P, R)   met")
    failed = 0
    for entity in ENTITY_TYPES:
        c = counts.get(entity, {"labels": 0, "found": 0, "exact": 0, "overlap": 0})
        modes = ("exact", "overlap") if entity in FUZZY else ("exact",)
        for mode in modes:
            precision, recall = _ratio(c[mode], c["found"]), _ratio(c[mode], c["labels"])
            target_p, target_r = TARGETS[entity]
            judged = mode == "overlap" or entity not in FUZZY
            met = (target_p is None or precision >= target_p) and recall >= target_r
            failed += judged and not met
            label = entity if mode == "exact" else f"  ({mode})"
            target = f"{target_p if target_p is not None else '-'}, {target_r}"
            print(
                f"{label:18} {c['labels']:>7} {c['found']:>7} {precision:>10.4f} {recall:>7.4f}  "
                f"{target:14}  {('yes' if met else 'NO') if judged else ''}"
            )
    print("all targets met" if not failed else f"{failed} targets not met")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
