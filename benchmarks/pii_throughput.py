"""Desensitising the free text of synthetic hotline rows: texts per second, beside Presidio per text.

Usage: .venv/bin/python benchmarks/pii_throughput.py [--rows 1000000] [--sample 2000] [--seed 1]

Data (not timed): ``rows`` hotline rows from the platform's synthetic generator (``hotline_table``,
the rows ``datahub demo`` delivers, with their defects), of which the free-text column 诉求内容
(complaint_text) is desensitised: names, phones, ids and addresses in the texts.

- ``datahub``: ``scan_text_column`` over the whole column, the way the published stage masks free
  text (distinct texts screened in polars, found in Python by the recognizers, masked in place).
- ``baseline``: Presidio as documented, one text at a time: ``AnalyzerEngine.analyze`` with the same
  recognizers, then ``AnonymizerEngine.anonymize`` (``presidio_mask_text``), on a random sample of
  ``--sample`` texts, timed the same way.

Same findings: for every sampled text, the entities the column scan finds (``scan_texts``) must equal
what ``analyze`` returns (type, start, end, score), and the text as masked in the timed run must
equal Presidio's anonymized text. The script exits non-zero when any differ, or when the target
(20,000 texts per second) is missed. Peak memory is the process's resident high-water mark.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections import Counter
from datetime import date

import polars as pl

from datahub.platform import Platform
from datahub.privacy.masking import presidio_mask_text, scan_text_column
from datahub.privacy.scanner import analyzer_findings, recognizers, scan_texts
from datahub.settings import Settings
from datahub.synth import hotline_table

TARGET = 20_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    platform = Platform(Settings(demo_mode=True))
    started = time.perf_counter()
    table, _ = hotline_table(
        args.rows, date(2026, 10, 1), platform.dictionary, platform.catalog, seed=args.seed
    )
    texts = pl.Series("complaint_text", table.cols["complaint_text"], dtype=pl.String)
    del table
    print(
        f"{texts.len():,} texts ({texts.n_unique():,} distinct, mean {texts.str.len_chars().mean():.0f} "
        f"characters) generated in {time.perf_counter() - started:.1f} s (not timed)"
    )
    recognizers()  # load the analyzer and the lexicons before timing, as a running service has them

    started = time.perf_counter()
    masked, counts = scan_text_column(texts)
    seconds = time.perf_counter() - started
    rate = texts.len() / seconds
    print(f"datahub   {texts.len():>9,} texts in {seconds:7.2f} s = {rate:>9,.0f} texts/s")
    print("          masked per entity: " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if v))

    rng = random.Random(args.seed)
    present = texts.is_not_null().arg_true().to_list()  # a few rows have no text (delivery defects)
    rows = sorted(rng.sample(present, min(args.sample, len(present))))
    sample = [texts[i] for i in rows]
    started = time.perf_counter()
    presidio = [presidio_mask_text(text) for text in sample]
    base_seconds = time.perf_counter() - started
    base_rate = len(sample) / base_seconds
    print(
        f"baseline  {len(sample):>9,} texts in {base_seconds:7.2f} s = {base_rate:>9,.0f} texts/s "
        "(Presidio per text)"
    )
    print(f"speed-up  {rate / base_rate:,.0f}x; peak memory {_peak_mb():,.0f} MB")

    found = scan_texts(pl.Series(sample, dtype=pl.String))
    differing_findings = [t for t in sample if found.get(t, []) != analyzer_findings(t)]
    differing_masks = [i for i, row in enumerate(rows) if masked[row] != presidio[i]]
    entities = Counter(f.type for t in sample for f in found.get(t, []))
    print(
        f"same findings as Presidio: {len(sample) - len(differing_findings):,}/{len(sample):,} texts "
        f"({sum(entities.values()):,} entities: {', '.join(f'{k} {v}' for k, v in entities.most_common())}); "
        f"same masked text: {len(sample) - len(differing_masks):,}/{len(sample):,}"
    )
    for text in differing_findings[:5]:
        print("  differs:", text, found.get(text, []), analyzer_findings(text))
    met = rate >= TARGET
    print(f"target: >= {TARGET:,} texts/s: {'met' if met else 'NOT met'} ({rate:,.0f})")
    return 0 if met and not differing_findings and not differing_masks else 1


if __name__ == "__main__":
    sys.exit(main())
