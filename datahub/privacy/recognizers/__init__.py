"""Presidio recognizers for Chinese personal data, which Presidio itself does not ship (one per file)."""

from __future__ import annotations

from datahub.privacy.recognizers.base import NormalisedPatternRecognizer, Scanning, TextRecognizer
from datahub.privacy.recognizers.cn_address_recognizer import CnAddressRecognizer
from datahub.privacy.recognizers.cn_bank_card_recognizer import CnBankCardRecognizer
from datahub.privacy.recognizers.cn_landline_recognizer import CnLandlineRecognizer
from datahub.privacy.recognizers.cn_license_plate_recognizer import CnLicensePlateRecognizer
from datahub.privacy.recognizers.cn_mobile_recognizer import CnMobileRecognizer
from datahub.privacy.recognizers.cn_numbered_address_recognizer import CnNumberedAddressRecognizer
from datahub.privacy.recognizers.cn_resident_id_recognizer import CnResidentIdRecognizer
from datahub.privacy.recognizers.cn_uscc_recognizer import CnUsccRecognizer
from datahub.privacy.recognizers.credit_card_recognizer import CreditCardRecognizer
from datahub.privacy.recognizers.email_recognizer import EmailRecognizer
from datahub.privacy.recognizers.ip_recognizer import IpRecognizer
from datahub.privacy.recognizers.person_cue_recognizer import PersonCueRecognizer
from datahub.privacy.recognizers.person_recognizer import PersonRecognizer, SecondLookPersonRecognizer
from datahub.privacy.recognizers.us_phone_recognizer import UsPhoneRecognizer
from datahub.privacy.recognizers.us_ssn_recognizer import UsSsnRecognizer

ALL_RECOGNIZERS: tuple[type[NormalisedPatternRecognizer] | type[TextRecognizer], ...] = (
    CnResidentIdRecognizer,
    CnUsccRecognizer,
    CnMobileRecognizer,
    CnLandlineRecognizer,
    CnBankCardRecognizer,
    EmailRecognizer,
    IpRecognizer,
    CnLicensePlateRecognizer,
    PersonRecognizer,
    CnAddressRecognizer,
    UsPhoneRecognizer,
    UsSsnRecognizer,
    CreditCardRecognizer,
)

__all__ = [
    "ALL_RECOGNIZERS",
    "CnAddressRecognizer",
    "CnBankCardRecognizer",
    "CnLandlineRecognizer",
    "CnLicensePlateRecognizer",
    "CnMobileRecognizer",
    "CnNumberedAddressRecognizer",
    "CnResidentIdRecognizer",
    "CnUsccRecognizer",
    "CreditCardRecognizer",
    "EmailRecognizer",
    "IpRecognizer",
    "NormalisedPatternRecognizer",
    "PersonCueRecognizer",
    "PersonRecognizer",
    "Scanning",
    "SecondLookPersonRecognizer",
    "TextRecognizer",
    "UsPhoneRecognizer",
    "UsSsnRecognizer",
]
