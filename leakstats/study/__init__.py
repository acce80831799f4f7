"""A report from your own data: the analyses of leakstats on one input, as a folder of
Markdown, tables and figures (:func:`write_report`, ``leakstats report``)."""

from leakstats.study.report import write_report

__all__ = ["write_report"]
