"""PERSON and CN_ADDRESS detection measured on public Chinese NER corpora written by others.

Usage: .venv/bin/python benchmarks/pii_public.py [--corpus cluener --corpus weibo ...] [--limit N]
       [--errors N] [--dev CORPUS] [--show [N]] [--sweep 0 0.5 1 2 3]

Corpora (``tests/fixtures/public_ner.py``, read in place from ``../shared/data/ner/``): CLUENER2020
train (fiction/news mix: PERSON, and CN_ADDRESS for its street-level ``address`` mentions), Weibo NER
train (social media: PERSON, ``PER.NAM`` only) and MSRA NER validation (news: PERSON). The names in
them are mostly written without a cue (``先生``, ``来电人``), unlike the complaint texts the product
was built on (``benchmarks/pii_eval.py``).

Detectors (:func:`detectors`, the one place that names the classes): each is a function from a list
of texts to a list of findings per text (``datahub.privacy.scanner.Finding``).

- ``rules (before)``: the rule recognizers of today, called per text (names after cues and before
  honorifics; addresses with a house number).
- ``datahub (BIAS)``: the product path, ``scan_texts`` over a polars column for PERSON and CN_ADDRESS
  (the name model at its masking bias, ``PersonRecognizer.BIAS``): what ``datahub pii scan`` reports.
- ``datahub masking``: what the masking pass masks: those and the names of its second look (the model
  at the audit's bias), resolved as masking resolves overlaps.
- ``bias B`` (``--sweep B ...``): the name recognizer alone at other biases, to choose the bias on the
  dev corpus and see what it gives on the others.

For each corpus, detector and entity: gold labels, findings, precision/recall/F1 with exact spans and
with overlap (a finding of the type covering at least half of a gold span, one to one), and texts per
second. ``--errors N`` prints up to N missed labels and N false findings (overlap matching) with their
sentence, the mention in 【】. ``--dev CORPUS`` (default cluener) marks the corpus thresholds were chosen
on "(dev)" and the others "(held-out)". ``--show N`` prints N street-level and N other CLUENER
address mentions. A markdown table of every figure ends the output.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datahub.privacy.lexical import lexical_model  # noqa: E402
from tests.fixtures.public_ner import (  # noqa: E402
    CORPORA,
    ENTITIES,
    PRF,
    Sample,
    Scores,
    cluener_addresses,
    numbered,
    overlap_matches,
    score,
    spans_of,
)

Detector = Callable[[list[str]], list[list]]


def detectors(sweep: Sequence[float] = ()) -> dict[str, Detector]:
    """The detectors to compare, by name: the rules of before, the product, and with ``sweep`` the
    product's name recognizer at other biases (its threshold for names; PERSON only)."""
    import polars as pl

    from datahub.privacy.masking import resolve
    from datahub.privacy.recognizers import (
        CnNumberedAddressRecognizer,
        PersonCueRecognizer,
        PersonRecognizer,
        SecondLookPersonRecognizer,
    )
    from datahub.privacy.scanner import Finding, scan_texts

    person, address = PersonCueRecognizer(), CnNumberedAddressRecognizer()

    def rules(texts: list[str]) -> list[list[Finding]]:
        found = []
        for text in texts:
            spans = [Finding("PERSON", *span) for span in person.find(text)]
            spans += [Finding("CN_ADDRESS", *span) for span in address.find(text)]
            found.append(spans)
        return found

    def product(texts: list[str]) -> list[list[Finding]]:
        by_text = scan_texts(pl.Series(texts, dtype=pl.String), ["PERSON", "CN_ADDRESS"])
        return [by_text.get(text, []) for text in texts]

    def masking(texts: list[str]) -> list[list[Finding]]:
        """What the masking pass masks: the first look and the second, resolved as masking resolves."""
        entities = ["PERSON", SecondLookPersonRecognizer.ENTITY, "CN_ADDRESS"]
        by_text = scan_texts(pl.Series(texts, dtype=pl.String), entities)
        return [
            [
                f._replace(type="PERSON") if f.type == entities[1] else f
                for f in resolve(by_text.get(text, []))
            ]
            for text in texts
        ]

    def at_bias(bias: float) -> Detector:
        names = PersonRecognizer(person_bias=bias)
        return lambda texts: [
            [Finding("PERSON", *span) for span in spans] for spans in names.find_many(texts)
        ]

    chosen: dict[str, Detector] = {
        "rules (before)": rules,
        f"datahub ({PersonRecognizer.BIAS})": product,
        "datahub masking": masking,
    }
    chosen.update({f"bias {bias}": at_bias(bias) for bias in sweep})
    return chosen


def _in_context(text: str, start: int, end: int, width: int = 40) -> str:
    """The sentence around ``text[start:end]``, the mention in 【】, cut to ``width`` characters a side."""
    before = text[max(start - width, 0) : start]
    after = text[end : end + width]
    left = "…" if start > width else ""
    right = "…" if end + width < len(text) else ""
    return f"{left}{before}【{text[start:end]}】{after}{right}".replace("\n", " ")


def print_errors(samples: Sequence[Sample], findings: Sequence[Sequence], entity: str, limit: int) -> None:
    """Up to ``limit`` missed labels and ``limit`` false findings, under overlap matching."""
    missed: list[str] = []
    false: list[str] = []
    for sample, found in zip(samples, findings, strict=True):
        gold, spans = spans_of(sample.entities, entity), spans_of(found, entity)
        pairs = overlap_matches(gold, spans)
        matched_gold, matched_found = {i for i, _ in pairs}, {j for _, j in pairs}
        missed += [
            f"{sample.id}: {_in_context(sample.text, *g)}"
            for i, g in enumerate(gold)
            if i not in matched_gold
        ]
        false += [
            f"{sample.id}: {_in_context(sample.text, *f)}"
            for j, f in enumerate(spans)
            if j not in matched_found
        ]
        if len(missed) >= limit and len(false) >= limit:
            break
    for title, lines in (("missed", missed), ("false", false)):
        print(f"      {title}:" + ("" if lines else " none"))
        for line in lines[:limit]:
            print(f"        {line}")


def show_addresses(samples: Sequence[Sample], count: int) -> None:
    """How many CLUENER address mentions are street-level, and ``count`` examples of each kind."""
    ids = {sample.id for sample in samples}
    addresses = [a for a in cluener_addresses() if a.sample in ids]
    street = [a for a in addresses if a.street_level]
    other = [a for a in addresses if not a.street_level]
    with_number = sum(numbered(a.text) for a in street)
    print(
        f"  CLUENER address mentions: {len(addresses):,}; street-level (CN_ADDRESS gold) {len(street):,}, "
        f"of which {with_number:,} with a number; not street-level {len(other):,}"
    )
    for title, kind in (("street-level", street), ("not street-level", other)):
        if count and kind:
            distinct = list(dict.fromkeys(a.text for a in kind))
            step = max(len(distinct) // count, 1)
            print(f"    {title}: " + " | ".join(distinct[::step][:count]))


WARM_UP = "市民张伟反映，家住建国路88号3栋502室。"
"""Run through every detector once before timing, so that loading dictionaries is not counted."""


def _figures(prf: PRF) -> tuple[str, str, str]:
    """Precision, recall and F1 as printed; precision is "-" when nothing was found."""
    precision = f"{prf.precision:.3f}" if prf.found else "-"
    return precision, f"{prf.recall:.3f}", f"{prf.f1:.3f}" if prf.found else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", choices=sorted(CORPORA), help="repeatable; default all")
    parser.add_argument("--limit", type=int, default=None, help="first N sentences of each corpus")
    parser.add_argument("--errors", type=int, default=0, metavar="N")
    parser.add_argument(
        "--dev", choices=sorted(CORPORA), default="cluener", help="the corpus thresholds were chosen on"
    )
    parser.add_argument(
        "--sweep",
        type=float,
        nargs="*",
        default=(),
        metavar="BIAS",
        help="the name model at these biases too",
    )
    parser.add_argument("--show", type=int, nargs="?", const=8, default=0, metavar="N")
    args = parser.parse_args()

    chosen = detectors(args.sweep)
    products = list(chosen)[:3]  # the sweep's detectors find names only
    table: list[tuple[str, str, str, Scores]] = []
    for name in args.corpus or list(CORPORA):
        loader, kind = CORPORA[name]
        samples = loader()[: args.limit]
        role = "" if args.dev is None else " (dev)" if name == args.dev else " (held-out)"
        print(f"== {name}{role}: {kind}, {len(samples):,} sentences")
        if name == "cluener":
            show_addresses(samples, args.show)
        texts = [sample.text for sample in samples]
        print(
            f"  {'detector':16} {'entity':11} {'gold':>6} {'found':>6}   "
            f"{'P':>6} {'R':>6} {'F1':>6}   {'P':>6} {'R':>6} {'F1':>6}   texts/s"
        )
        print(f"  {'':42}{'exact':>21}   {'overlap':>20}")
        for detector, detect in chosen.items():
            detect([WARM_UP])
            lexical_model().clear_cache()
            started = time.perf_counter()
            findings = detect(texts)
            rate = len(texts) / max(time.perf_counter() - started, 1e-9)
            for entity in ENTITIES[name] if detector in products else ("PERSON",):
                scores = score(samples, findings, entity)
                table.append((f"{name}{role}", detector, entity, scores))
                exact, overlap = (" ".join(f"{x:>6}" for x in _figures(prf)) for prf in scores)
                print(
                    f"  {detector:16} {entity:11} {scores.exact.gold:>6} {scores.exact.found:>6}   "
                    f"{exact}   {overlap}   {rate:,.0f}"
                )
                if args.errors:
                    print_errors(samples, findings, entity, args.errors)
        print()

    print("| corpus | detector | entity | P | R | F1 exact | P | R | F1 overlap |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for corpus, detector, entity, scores in table:
        figures = " | ".join(" | ".join(_figures(prf)) for prf in scores)
        print(f"| {corpus} | {detector} | {entity} | {figures} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
