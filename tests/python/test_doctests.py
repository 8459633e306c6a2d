"""The docstring examples run: doctest over every module of the installed vectro package, one test
per module, in a scratch directory (examples that save files write there). A module whose optional
package is missing (LangChain, LlamaIndex, Dask...) skips, saying which. The pgvector examples run
against a throwaway PostgreSQL started here (pg_server.py; its DSN is the examples' ``dsn``), every
table dropped between docstrings; without PostgreSQL and pgvector they skip, saying why. Examples
that need a server this test cannot start (Weaviate, Pinecone) are marked `# doctest: +SKIP` with
the reason beside them; those of vectro.cuda need a GPU, are marked +SKIP too, and run here (SKIP
lifted) where a GPU is usable.

ELLIPSIS and NORMALIZE_WHITESPACE are on for every example: reprs that hold floats show only the
digits that are the same on every instruction set, the rest elided."""

from __future__ import annotations

import contextlib
import doctest
import importlib
import os
import pkgutil
import shutil
import time

import numpy as np
import pg_server
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


@contextlib.contextmanager
def postgres():
    """(globals for the examples, cleanup after each docstring) with a fresh PostgreSQL."""
    why = pg_server.why_not()
    if why:
        pytest.skip(f"vectro.integrations.pgvector: {why}")
    import psycopg

    server = pg_server.PgServer().start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as c:
            c.execute("CREATE EXTENSION vector")

        def cleanup():
            with psycopg.connect(server.dsn(), autocommit=True) as c:
                for (t,) in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall():
                    c.execute(f'DROP TABLE "{t}" CASCADE')

        yield {"dsn": server.dsn()}, cleanup
    finally:
        server.stop()


@contextlib.contextmanager
def milvus_lite(tmp_path):
    """(globals, cleanup) with one milvus-lite client for the module's examples: its embedded
    server keeps the file until the process ends, so examples share it; collections are dropped
    between docstrings."""
    pymilvus = pytest.importorskip("pymilvus", reason="pymilvus is not installed: pip install 'vectro[milvus]'")
    pytest.importorskip("milvus_lite", reason="milvus-lite is not installed: pip install 'vectro[milvus]'")
    client = pymilvus.MilvusClient(str(tmp_path / "milvus.db"))

    def cleanup():
        for c in client.list_collections():
            client.drop_collection(c)

    try:
        yield {"client": client}, cleanup
    finally:
        client.close()


@pytest.mark.parametrize("name", module_names())
def test_docstring_examples(name, tmp_path, monkeypatch, capsys):
    try:
        mod = importlib.import_module(name)
    except ImportError as e:  # an integration whose package is not installed here
        pytest.skip(f"{name}: {e}")
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    with contextlib.ExitStack() as stack:
        globs, cleanup = {}, None
        if name == "vectro.integrations.pgvector":
            globs, cleanup = stack.enter_context(postgres())
        elif name == "vectro.integrations.milvus":
            globs, cleanup = stack.enter_context(milvus_lite(tmp_path))
        run_module(name, mod, globs, cleanup, capsys)


def run_module(name, mod, globs, cleanup, capsys):
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    tests = [t for t in finder.find(mod, name, extraglobs=globs) if t.examples]
    if name == "vectro.cuda" and vectro.cuda.is_available():
        for t in tests:  # a GPU is here: run the examples that need one
            for ex in t.examples:
                ex.options.pop(doctest.SKIP, None)
    failures, timings = [], []
    saved = np.get_printoptions()
    for t in tests:
        start = time.perf_counter()
        out = []
        result = runner.run(t, out=out.append, clear_globs=False)
        timings.append((time.perf_counter() - start, t.name))
        for handle in ("conn", "client"):  # a database connection or client the example opened
            if handle not in globs and hasattr(t.globs.get(handle), "close"):
                t.globs[handle].close()
        t.globs.clear()
        if cleanup is not None:
            cleanup()
        for f in os.listdir():  # each docstring starts in an empty directory
            shutil.rmtree(f) if os.path.isdir(f) else os.remove(f)
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
