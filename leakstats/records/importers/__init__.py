"""Readers of other tools' output formats, each turning one format into leakstats records."""
