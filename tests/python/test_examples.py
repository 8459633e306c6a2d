"""Runs every example program under examples/ as a user would, from the source root, on the shipped
sample (the C ones run under ctest as example_*; the vector-database ones in
test_integrations_*.py). A program whose optional dependency is missing says so and is skipped."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# The `vectro` command installed beside this interpreter (a venv's bin), else on PATH.
BIN = Path(sys.executable).parent
VECTRO = str(BIN / "vectro") if (BIN / "vectro").exists() else shutil.which("vectro")


def run(args, timeout=120, env=None):
    e = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")
    e.update(env or {})
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=e)
    assert p.returncode == 0, f"{args} exited {p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"
    return p.stdout


# (script, text its output must hold)
PLAIN = [
    ("compress_and_measure.py", "rabitq-4"),
    ("stream_large_file.py", "output exists: False"),
    ("read_rows.py", "past the end: rows [4000, 4010) are outside"),
    ("search_rescore.py", "rabitq-4, by bound      1.000"),
    ("choose_codec.py", "first query's top 3"),
    ("sentence_transformers_compat.py", "uint8 (truncate) codes equal to the recipe's: 100.0000%"),
    ("faiss_side_by_side.py", "recall@10"),
]


@pytest.mark.parametrize("script,expect", PLAIN, ids=[s for s, _ in PLAIN])
def test_example(script, expect):
    out = run([sys.executable, str(EXAMPLES / script)])
    if script == "faiss_side_by_side.py" and importlib.util.find_spec("faiss") is None:
        assert "skipping" in out
        pytest.skip("faiss-cpu is not installed: only Vectro's side ran")
    assert expect in out, out


def test_cli_pipeline(tmp_path):
    if not VECTRO:
        pytest.skip("the vectro command is not installed beside this Python or on PATH")
    out = run(["bash", str(EXAMPLES / "cli_pipeline.sh"), str(tmp_path)])
    assert "all checksums match" in out and "pq-48x4" in out, out
    assert (tmp_path / "back.npy").exists()


def test_every_example_is_run():
    """A new example must be run by a test: here, by ctest (examples/CMakeLists.txt) for C, or by
    another test file (the vector-database and framework examples run in tests/python/test_integrations_*.py,
    against the real engine or its local mode)."""
    covered = {s for s, _ in PLAIN} | {"cli_pipeline.sh"}
    others = "".join(f.read_text() for f in Path(__file__).parent.glob("test_integrations_*.py"))
    cmake = (EXAMPLES / "CMakeLists.txt").read_text()
    for f in EXAMPLES.iterdir():
        if f.suffix == ".c":
            assert f"example_{f.stem}" in cmake, f"{f.name} is not run by ctest"
        elif f.suffix in (".py", ".sh"):
            assert f.name in covered or f.name in others, f"{f.name} is not run by any test"
