"""Executes every tutorial notebook (notebooks/*.py, jupytext percent format) from a clean kernel
with nbclient, as scripts/build_docs.sh --notebooks does. Needs the docs extra (jupytext, nbclient,
ipykernel, matplotlib); a notebook whose `# requires:` modules are missing is skipped with the
reason."""

import importlib.util
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
RUNNER = runpy.run_path(str(ROOT / "scripts" / "docs" / "run_notebooks.py"))

for _m in ("jupytext", "nbclient", "ipykernel", "matplotlib"):
    if importlib.util.find_spec(_m) is None:
        pytest.skip(f"{_m} is not installed: pip install '.[docs]' to run the notebooks", allow_module_level=True)


def test_five_tutorials_at_least():
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    missing = RUNNER["missing_requirements"](path)
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(missing)}, which is not installed")
    nb = RUNNER["execute"](path, timeout=300)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    if "matplotlib" in path.read_text(encoding="utf-8"):  # the plots were drawn
        assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
