"""The README's Python snippets run as written: each ```python block is executed on its own, in a
fresh namespace, from a scratch directory where data/ is the source tree's (so the shipped sample
is found and the files the snippets write land in the scratch directory). Blocks that depend on an
optional extra say so in a first-line comment `# needs: module` and are skipped without it."""

import importlib.util
import os
import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.M | re.S)


def test_readme_has_python_blocks():
    assert BLOCKS


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_block_runs(i, tmp_path, monkeypatch):
    code = BLOCKS[i]
    need = re.match(r"#\s*needs:\s*([\w.]+)", code)
    if need and importlib.util.find_spec(need.group(1)) is None:
        pytest.skip(f"README block {i} needs {need.group(1)}, which is not installed")
    os.symlink(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    script = tmp_path / f"readme_block_{i}.py"
    script.write_text(code, encoding="utf-8")
    runpy.run_path(str(script), run_name="__main__")


SHELL = [b for b in re.findall(r"^```sh\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.M | re.S)
         if b.startswith("vectro ")]


@pytest.mark.parametrize("i", range(len(SHELL)))
def test_readme_shell_block_runs(i, tmp_path):
    """The README's command-line block, with the installed `vectro` (beside this Python, else PATH)."""
    import shutil
    import subprocess
    import sys

    bindir = Path(sys.executable).parent
    if not (bindir / "vectro").exists() and not shutil.which("vectro"):
        pytest.skip("the vectro command is not installed beside this Python or on PATH")
    os.symlink(ROOT / "data", tmp_path / "data")
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", SHELL[i]], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
