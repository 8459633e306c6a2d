"""run_notebooks.py: executes the tutorial notebooks (jupytext percent-format .py files) from a
clean kernel with nbclient, in the source root (so data/sample is found), and writes the executed
.ipynb files (with their plots) to build/notebooks/. A notebook whose header says
`# requires: module[, module]` is skipped, with the reason, when one is missing.
Usage: run_notebooks.py [DIR_OR_FILES...]   (default: notebooks/)"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def missing_requirements(path: Path) -> list[str]:
    head = path.read_text(encoding="utf-8")[:3000]
    want = [m.strip() for line in re.findall(r"^# requires:(.*)$", head, re.M) for m in line.split(",")]
    return [m for m in want if m and importlib.util.find_spec(m) is None]


def execute(path: Path, timeout: int = 300):
    """Runs every cell of the notebook in a fresh kernel; returns the executed notebook. A cell
    that raises makes nbclient raise CellExecutionError naming the cell and the traceback."""
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


def main(args: list[str]) -> int:
    import nbformat

    targets = [Path(a) for a in args] or [ROOT / "notebooks"]
    files = sorted(p for t in targets for p in ([t] if t.is_file() else t.glob("*.py")))
    out = ROOT / "build" / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        miss = missing_requirements(f)
        if miss:
            print(f"{f.name}: skipped, needs {', '.join(miss)} (not installed)")
            continue
        t = time.monotonic()
        nb = execute(f)
        nbformat.write(nb, out / (f.stem + ".ipynb"))
        print(f"{f.name}: ok in {time.monotonic() - t:.1f} s -> {out / (f.stem + '.ipynb')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
