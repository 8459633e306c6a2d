"""The guides' Python snippets run: each page's ```python blocks are one session (later blocks use
what earlier ones defined), run as a script in a scratch directory where data/ is the source
tree's, so the shipped sample is found. Side-by-side comparisons with other libraries are
```text blocks and are not run."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "docs" / "index.md", *sorted((ROOT / "docs" / "guides").glob("*.md"))]


def blocks(page: Path):
    return re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.M | re.S)


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_guide_snippets_run(page, tmp_path):
    os.symlink(ROOT / "data", tmp_path / "data")
    script = tmp_path / "page.py"
    script.write_text("\n\n".join(blocks(page)), encoding="utf-8")
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, f"{page.name}:\n{p.stderr[-3000:]}"
