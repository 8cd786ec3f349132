"""Rendering evaluations: index.html (self-contained), report.json, metrics.csv, PNG figures; written atomically."""

from .summary import terminal_summary
from .writer import load_report, report_json, write_report

__all__ = ["load_report", "report_json", "terminal_summary", "write_report"]
