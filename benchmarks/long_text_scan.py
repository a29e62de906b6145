"""Scanning one long free-text value for personal data, beside the same text cut into sentences.

Usage: .venv/bin/python benchmarks/long_text_scan.py [--sizes N,N] [--dense-sizes N,N]

Two texts: the MSRA NER validation sentences (news written by others, ``../shared/data/ner/msra``),
joined; and a citizen complaint dense in names and titles (written here), repeated, as a pasted
complaint log is. Each size is scanned with ``datahub.privacy.scanner.find_entities`` as one value (a
text pasted whole, up to the 1,048,576-character cell limit) and, as the baseline, sentence by
sentence, each pass with the name model's cache of analysed pieces emptied. Cost that grows with the
square of a value's length shows as a ratio that rises with the size; a linear scan keeps it flat.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MSRA = ROOT.parent / "shared" / "data" / "ner" / "msra" / "val_sentences.txt"


def sentences() -> list[str]:
    lines = MSRA.read_text(encoding="utf-8").splitlines()
    return [line.replace(" ", "") for line in lines if line.strip()]


def take(parts: list[str], size: int) -> list[str]:
    out, total = [], 0
    for part in parts:
        if total >= size:
            break
        out.append(part[: size - total])
        total += len(out[-1])
    return out


# Dense in names and titles, as a pasted complaint log is (written here): the case that was quadratic.
COMPLAINT = "市民张伟反映，朝阳区建国路88号附近夜间施工噪声扰民，联系电话13800138000，王女士也投诉了此事。"


def dense(size: int) -> list[str]:
    return take([COMPLAINT] * (size // len(COMPLAINT) + 1), size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,100000,190000", help="characters, comma-separated")
    parser.add_argument(
        "--dense-sizes", default="100000,300000", help="the same for the dense complaint text"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from datahub.privacy.scanner import find_entities

    find_entities(COMPLAINT)  # load the model outside the timings
    for label, cut, sizes in (
        ("MSRA news (others' text)", lambda size: take(sentences(), size), args.sizes),
        ("dense complaint text (written here)", dense, args.dense_sizes),
    ):
        print(label)
        table([int(s) for s in sizes.split(",")], cut)


def table(sizes: list[int], cut: Callable[[int], list[str]]) -> None:
    from datahub.privacy.lexical import lexical_model
    from datahub.privacy.scanner import find_entities

    print(f"{'characters':>10} {'one value s':>12} {'sentences s':>12} {'ratio':>6} {'findings':>11}")
    for size in sizes:
        chunk = cut(size)
        lexical_model().clear_cache()  # each pass analyses every piece itself
        started = time.perf_counter()
        whole = find_entities("".join(chunk))
        one = time.perf_counter() - started
        lexical_model().clear_cache()
        started = time.perf_counter()
        split = sum(len(find_entities(sentence)) for sentence in chunk)
        baseline = time.perf_counter() - started
        print(f"{size:>10,} {one:>12.2f} {baseline:>12.2f} {one / baseline:>6.2f} {len(whole):>5}/{split:<5}")


if __name__ == "__main__":
    main()
