"""Presentation: tables (:mod:`.tables`), figures (:mod:`.plots`) and text renderings of
results. Nothing in the analysis layers imports this package at module level; results reach it
through thin methods (``to_latex``, ``plot``) that import it when called."""
