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
import pkgutil
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


@pytest.mark.parametrize("name", module_names())
def test_docstring_examples(name, tmp_path, monkeypatch, capsys):
    try:
        mod = importlib.import_module(name)
    except ImportError as e:  # an integration whose package is not installed here
        pytest.skip(f"{name}: {e}")
    monkeypatch.chdir(tmp_path)
    with contextlib.ExitStack() as stack:
        globs, cleanup = {}, None
        if name == "vectro.integrations.pgvector":
            globs, cleanup = stack.enter_context(postgres())
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
        conn = t.globs.get("conn")
        if conn is not None and hasattr(conn, "close"):  # a database connection the example opened
            conn.close()
        t.globs.clear()
        if cleanup is not None:
            cleanup()
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
