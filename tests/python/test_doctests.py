"""The docstring examples run: doctest over every module of the installed vectro package, one test
per module, in a scratch directory (examples that save files write there). A module whose optional
package is missing (LangChain, LlamaIndex, Dask...) skips, saying which; examples that need a
database server are marked `# doctest: +SKIP` in their text, with the reason beside them; those of
vectro.cuda need a GPU, are marked +SKIP too, and run here (SKIP lifted) where a GPU is usable.

ELLIPSIS and NORMALIZE_WHITESPACE are on for every example: reprs that hold floats show only the
digits that are the same on every instruction set, the rest elided."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import time

import numpy as np
import pytest
import vectro

# The command-line entry points run their program on import.
NOT_IMPORTED = {"vectro.__main__", "vectro.distributed.__main__"}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def module_names() -> list[str]:
    names = ["vectro", "vectro._core"]
    for m in pkgutil.walk_packages(vectro.__path__, "vectro."):
        # libvectro_cuda is the CUDA kernels' shared library beside the package, not a module
        if m.name not in NOT_IMPORTED and m.name not in names and not m.name.endswith("libvectro_cuda"):
            names.append(m.name)
    return sorted(names)


@pytest.mark.parametrize("name", module_names())
def test_docstring_examples(name, tmp_path, monkeypatch, capsys):
    try:
        mod = importlib.import_module(name)
    except ImportError as e:  # an integration whose package is not installed here
        pytest.skip(f"{name}: {e}")
    monkeypatch.chdir(tmp_path)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    tests = [t for t in finder.find(mod, name) if t.examples]
    if name == "vectro.cuda" and vectro.cuda.is_available():
        for t in tests:  # a GPU is here: run the examples that need one
            for ex in t.examples:
                ex.options.pop(doctest.SKIP, None)
    failures, timings = [], []
    saved = np.get_printoptions()
    for t in tests:
        start = time.perf_counter()
        out = []
        result = runner.run(t, out=out.append, clear_globs=True)
        timings.append((time.perf_counter() - start, t.name))
        np.set_printoptions(**saved)
        vectro.set_backend("auto")
        if result.failed:
            failures.append("".join(out))
    with capsys.disabled():  # the slowest examples, so a slow one is noticed
        if not timings:
            return
        slow = ", ".join(f"{n} {s * 1000:.0f} ms" for s, n in sorted(timings, reverse=True)[:2])
        print(f"\n{name}: {len(tests)} docstrings, slowest {slow}", end="")
    assert not failures, "\n".join(failures)
