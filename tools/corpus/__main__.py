"""`python -m tools.corpus OUT_DIR [--seed N]` (from the clone's root): write the sample corpus into OUT_DIR."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tools.corpus.build import build_sample


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.corpus", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts = build_sample(args.out_dir, args.seed)
    for name, rows in counts.items():
        size = (args.out_dir / name).stat().st_size
        print(f"{name:28s} {rows:6d} rows {size / 1e6:8.2f} MB")
    print(f"written to {args.out_dir} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
