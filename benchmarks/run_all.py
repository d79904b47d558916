"""Run every benchmark script in this folder and print one table (`make bench`).

Each script exposes run(quick) -> rows of {figure, ours, baseline, ratio, goal} and sets up its
own benchmark database. Each runs in a process of its own, exactly as when run alone, so no
script sees another's Django set-up, caches or data. BENCH_QUICK=1 runs the smaller variants.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _setup import print_table  # noqa: E402

MARKER = "@@BENCH_ROWS@@"
CHILD = (
    "import json, sys; sys.path.insert(0, {here!r}); import {name} as m; "
    "rows = m.run(quick={quick}); print({marker!r} + json.dumps(rows, default=str), flush=True)"
)


def scripts() -> list[Path]:
    found = []
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_") or path.name == "run_all.py":
            continue
        if "\ndef run(" in path.read_text(encoding="utf-8"):
            found.append(path)
    return found


def run_one(path: Path, quick: bool) -> list[dict[str, str]] | None:
    code = CHILD.format(here=str(HERE), name=path.stem, quick=quick, marker=MARKER)
    print(f"running {path.name} ...", file=sys.stderr, flush=True)
    proc = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, stdout=subprocess.PIPE, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            rows: list[dict[str, str]] = json.loads(line[len(MARKER) :])
            return rows
    sys.stderr.write(proc.stdout[-4000:])
    return None


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    rows: list[dict[str, str]] = []
    failed = False
    for path in scripts():
        result = run_one(path, quick)
        if result is None:
            failed = True
            rows.append({"figure": f"{path.stem}: FAILED (see above)", "ours": "", "baseline": "", "ratio": "", "goal": ""})
        else:
            rows.extend(result)
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
