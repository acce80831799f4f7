"""``python -m leakstats``: the same as the ``leakstats`` command."""

from leakstats.cli import main

raise SystemExit(main())
