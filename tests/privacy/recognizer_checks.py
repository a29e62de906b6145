"""What every pattern recognizer's tests check the same way: its spans, screening and fast paths."""

from __future__ import annotations

import random

import polars as pl
import regex

from datahub.privacy.recognizers import NormalisedPatternRecognizer


def spans(recognizer: NormalisedPatternRecognizer, text: str) -> list[tuple[int, int]]:
    """What Presidio's ``analyze`` reports for ``text``, as sorted (start, end)."""
    return sorted((r.start, r.end) for r in recognizer.analyze(text, [recognizer.ENTITY], None))


def span_of(text: str, expected: str) -> list[tuple[int, int]]:
    start = text.index(expected)
    return [(start, start + len(expected))]


def mutations(seeds: list[str], alphabet: str, count: int, rng: random.Random, joiners: str) -> list[str]:
    """Tokens near the identifiers: characters replaced, inserted, deleted, tokens joined."""
    tokens = []
    for _ in range(count):
        token = list(rng.choice(seeds))
        for _ in range(rng.randint(0, 3)):
            kind = rng.randrange(4)
            position = rng.randrange(len(token) + 1)
            if kind == 0 and position < len(token):
                token[position] = rng.choice(alphabet)
            elif kind == 1:
                token.insert(position, rng.choice(alphabet))
            elif kind == 2 and position < len(token):
                del token[position]
            else:
                token += [rng.choice(joiners), *rng.choice(seeds)]
        tokens.append("".join(token))
    return [token for token in tokens if token]


def assert_screens_positives(recognizer: NormalisedPatternRecognizer, texts: list[str]) -> None:
    """The polars screening regex compiles and matches every text ``analyze`` finds something in."""
    assert pl.Series(["x"]).str.contains(recognizer.screening_regex).to_list() == [False]
    screened = pl.Series(texts).str.contains(recognizer.screening_regex).to_list()
    for text, is_screened in zip(texts, screened, strict=True):
        if spans(recognizer, text):
            assert is_screened, text


def assert_fast_paths_agree(recognizer: NormalisedPatternRecognizer, tokens: list[str]) -> None:
    """The screening regex matches exactly when a pattern does (Presidio's engine, no validation), and
    ``find_valid_spans`` (with its ``STARTS`` look-ahead) gives Presidio's spans."""
    screened = pl.Series(tokens).str.contains(recognizer.screening_regex).to_list()
    for token, is_screened in zip(tokens, screened, strict=True):
        matches = [
            regex.search(p.regex, token, flags=recognizer.global_regex_flags) for p in recognizer.patterns
        ]
        assert is_screened == any(matches), token
        assert sorted(recognizer.find_valid_spans(token)) == spans(recognizer, token), token
