"""Records and counts: the schema, its validation, and reading and writing tables."""

from leakstats.records.api import (  # noqa: F401
    ARM_COLUMNS,
    as_counts,
    counts,
    read_counts,
    read_leakk_jsonl,
    read_records,
    read_table,
    validate_counts,
    validate_records,
    write_table,
)
