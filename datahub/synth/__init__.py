"""Seeded, reproducible synthetic department data with injected defects and ground truth.

``generate`` writes a period of deliveries for every department dataset (in each department's own
format, encoding and headers, as its contract declares), ``ground_truth.csv`` (every injected defect
and the reason the pipeline should give), ``event_links.csv`` (app reports that are the same event as
a hotline call) and ``manifest.json``. See docs/synth.md.
"""

from datahub.synth.generator import generate, generate_hotline_file, hotline_table
from datahub.synth.model import DATASETS, DEFECT_REASONS, SynthConfig, SynthFile, SynthResult

__all__ = [
    "DATASETS",
    "DEFECT_REASONS",
    "SynthConfig",
    "SynthFile",
    "SynthResult",
    "generate",
    "generate_hotline_file",
    "hotline_table",
]
