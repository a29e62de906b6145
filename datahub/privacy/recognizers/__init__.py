"""Presidio recognizers for Chinese personal data, which Presidio itself does not ship."""

from __future__ import annotations

from datahub.privacy.recognizers.base import NormalisedPatternRecognizer, Scanning, TextRecognizer
from datahub.privacy.recognizers.cn_address_recognizer import CnAddressRecognizer
from datahub.privacy.recognizers.cn_mobile_recognizer import CnMobileRecognizer
from datahub.privacy.recognizers.cn_resident_id_recognizer import CnResidentIdRecognizer
from datahub.privacy.recognizers.person_recognizer import PersonRecognizer

ALL_RECOGNIZERS: tuple[type[NormalisedPatternRecognizer] | type[TextRecognizer], ...] = (
    CnResidentIdRecognizer,
    CnMobileRecognizer,
    PersonRecognizer,
    CnAddressRecognizer,
)

__all__ = [
    "ALL_RECOGNIZERS",
    "CnAddressRecognizer",
    "CnMobileRecognizer",
    "CnResidentIdRecognizer",
    "NormalisedPatternRecognizer",
    "PersonRecognizer",
    "Scanning",
    "TextRecognizer",
]
