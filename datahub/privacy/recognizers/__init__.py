"""Presidio recognizers for Chinese personal identifiers, which Presidio itself does not ship."""

from __future__ import annotations

from datahub.privacy.recognizers.base import NormalisedPatternRecognizer
from datahub.privacy.recognizers.cn_mobile_recognizer import CnMobileRecognizer
from datahub.privacy.recognizers.cn_resident_id_recognizer import CnResidentIdRecognizer

ALL_RECOGNIZERS: tuple[type[NormalisedPatternRecognizer], ...] = (CnMobileRecognizer, CnResidentIdRecognizer)

__all__ = ["ALL_RECOGNIZERS", "CnMobileRecognizer", "CnResidentIdRecognizer", "NormalisedPatternRecognizer"]
