"""Desensitisation: Chinese PII recognizers for Presidio and the vectorised column masking built on them."""
