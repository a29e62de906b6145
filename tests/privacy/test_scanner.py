"""The scanner reports what Presidio's analyzer reports, one text or a column at a time."""

from __future__ import annotations

import polars as pl
import pytest

from datahub.privacy.scanner import analyzer_findings, find_entities, scan_texts
from tests.fixtures.pii_corpus import generate

TEXTS = [s.text for s in generate(1200, seed=11)]


def test_find_entities_equals_the_analyzer() -> None:
    differing = [t for t in TEXTS if find_entities(t) != analyzer_findings(t)]
    assert differing == []
    assert sum(len(find_entities(t)) for t in TEXTS) > 1500  # the comparison is not between nothings


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_texts_equals_the_analyzer_in_one_process_or_several(workers: int) -> None:
    found = scan_texts(pl.Series([*TEXTS, None, ""]), workers=workers)
    assert {t: found.get(t, []) for t in TEXTS} == {t: analyzer_findings(t) for t in TEXTS}


def test_entity_selection() -> None:
    text = "市民张伟，电话13812345678"
    assert [f.type for f in find_entities(text, ["CN_MOBILE"])] == ["CN_MOBILE"]
    assert scan_texts(pl.Series([text]), ["PERSON"])[text][0].type == "PERSON"
    with pytest.raises(ValueError, match="unknown entity types"):
        find_entities(text, ["NOPE"])
