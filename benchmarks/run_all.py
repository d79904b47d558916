"""Run every benchmark script in this folder and print one table (`make bench`).

Each script exposes run(quick) -> rows of {figure, ours, baseline, ratio, goal}.
BENCH_QUICK=1 runs the smaller variants.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _setup import print_table  # noqa: E402


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    rows = []
    failed = False
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_") or path.name == "run_all.py":
            continue
        module = importlib.import_module(path.stem)
        if not hasattr(module, "run"):
            continue
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(module.run(quick=quick))
        except Exception:
            failed = True
            traceback.print_exc()
            rows.append({"figure": f"{path.stem}: FAILED", "ours": "", "baseline": "", "ratio": "", "goal": ""})
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
