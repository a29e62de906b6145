"""The Presidio analyzer of the platform: offline, Chinese, and limited to our own recognizers.

Presidio's default engine loads a spaCy model (downloading it if missing) and registers English
recognizers that mean nothing for Chinese data. Every recognizer here is a validated regex, so the
analyzer runs on :class:`NoOpNlpEngine`, which loads nothing.
"""

from __future__ import annotations

import functools

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from datahub.privacy.recognizers import ALL_RECOGNIZERS

LANGUAGE = "zh"


@functools.cache
def build_analyzer() -> AnalyzerEngine:
    """The shared analyzer (built once: the engines are stateless and cost a little to set up)."""
    nlp_engine = NoOpNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "no_op"}])
    registry = RecognizerRegistry(
        recognizers=[recognizer() for recognizer in ALL_RECOGNIZERS], supported_languages=[LANGUAGE]
    )
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE])
