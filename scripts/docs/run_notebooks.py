"""run_notebooks.py: executes the tutorial notebooks (jupytext percent-format .py files) from a
clean kernel with nbclient, in the source root (so data/sample is found), writes the executed
.ipynb files (with their plots) to build/notebooks/ and renders each as a Markdown page of the
site (docs/tutorials/, outputs and plots included). A notebook whose header says
`# requires: module[, module]` is skipped, with the reason, when one is missing (its page then
shows the code without outputs).
Usage: run_notebooks.py [--render-only] [DIR_OR_FILES...]   (default: notebooks/)
  --render-only   no execution: pages with the code and text only (the fast docs build)"""

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


PAGES = ROOT / "docs" / "tutorials"
MAX_LINES = 40  # of one text output on a page


def render(nb, stem: str, source: Path, executed: bool) -> None:
    """Writes docs/tutorials/<stem>.md: text cells as they are, code cells as Python blocks, text
    outputs as text blocks (long ones cut), images as PNG files beside the page."""
    import base64

    img_dir = PAGES / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    rel = source.resolve().relative_to(ROOT)
    note = ("executed when the site was built" if executed else
            "shown without outputs: `scripts/build_docs.sh --notebooks` runs it")
    md = [f"<!-- generated from {rel} by scripts/docs/run_notebooks.py -->", "",
          f"*Source: `{rel}` ({note}). Run it with `python {rel}`, or open it in Jupyter with jupytext.*", ""]
    n_img = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            md += [cell.source, ""]
            continue
        if cell.cell_type != "code" or not cell.source.strip() or cell.source.startswith("# requires:"):
            continue
        md += ["```python", cell.source.rstrip(), "```", ""]
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if "image/png" in data:
                n_img += 1
                name = f"{stem}_{n_img}.png"
                (img_dir / name).write_bytes(base64.b64decode(data["image/png"]))
                md += [f"![output {n_img}](img/{name})", ""]
                continue
            text = o.get("text") if o.get("output_type") == "stream" else data.get("text/plain")
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                continue  # warnings from libraries: not part of the lesson
            if text:
                lines = text.rstrip().splitlines()
                if len(lines) > MAX_LINES:
                    lines = lines[:MAX_LINES] + [f"... ({len(lines) - MAX_LINES} more lines)"]
                md += ["```text", *lines, "```", ""]
    (PAGES / f"{stem}.md").write_text("\n".join(md), encoding="utf-8")


def main(args: list[str]) -> int:
    import jupytext
    import nbformat

    render_only = "--render-only" in args
    args = [a for a in args if a != "--render-only"]
    targets = [Path(a) for a in args] or [ROOT / "notebooks"]
    files = sorted(p for t in targets for p in ([t] if t.is_file() else t.glob("*.py")))
    out = ROOT / "build" / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    PAGES.mkdir(parents=True, exist_ok=True)
    for f in files:
        miss = missing_requirements(f)
        if render_only or miss:
            if miss and not render_only:
                print(f"{f.name}: not executed, needs {', '.join(miss)} (not installed)")
            render(jupytext.read(f), f.stem, f, executed=False)
            continue
        t = time.monotonic()
        nb = execute(f)
        nbformat.write(nb, out / (f.stem + ".ipynb"))
        render(nb, f.stem, f, executed=True)
        print(f"{f.name}: ok in {time.monotonic() - t:.1f} s -> {out / (f.stem + '.ipynb')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
