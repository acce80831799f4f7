"""Write leakstats/data/example_simulated.parquet (refuses to overwrite)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from leakstats.datasets import EXAMPLE_FILE, make_example_records  # noqa: E402

if __name__ == "__main__":
    path = Path(__file__).resolve().parents[1] / "leakstats" / "data" / EXAMPLE_FILE
    if path.exists() and "--overwrite" not in sys.argv:
        sys.exit(f"{path} exists; pass --overwrite to replace it")
    make_example_records().to_parquet(path, index=False)
    print(f"wrote {path}")
