"""The monthly leadership report (月通报): figures, SVG charts, HTML and PDF (docs/reports.md)."""
