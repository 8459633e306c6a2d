"""check_docstrings.py: fails (exit 1, listing them) when a public name of the installed vectro
package has no docstring: everything in vectro.__all__, the public methods and properties of its
classes, and the public names of vectro.cuda, vectro.integrations.* and vectro.distributed."""

from __future__ import annotations

import importlib
import inspect
import sys

MODULES = ["vectro", "vectro.cuda", "vectro.distributed", "vectro.integrations"]
# integration modules import their database client lazily or at import: check those importable here
OPTIONAL = ["vectro.integrations.pgvector", "vectro.integrations.qdrant", "vectro.integrations.milvus",
            "vectro.integrations.weaviate", "vectro.integrations.pinecone", "vectro.integrations.faiss",
            "vectro.integrations.datasets", "vectro.integrations.langchain", "vectro.integrations.llama_index"]


def public(mod):
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, v in vars(mod).items() if not n.startswith("_")
                 and getattr(v, "__module__", "").startswith(mod.__name__)]
    return names


def members(cls):
    for name, v in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(v, (staticmethod, classmethod)):
            v = v.__func__
        if inspect.isfunction(v) or isinstance(v, property):
            yield name, v


def main() -> int:
    missing, checked, skipped = [], 0, []
    mods = []
    for name in MODULES + OPTIONAL:
        try:
            mods.append(importlib.import_module(name))
        except ImportError as e:
            if name in OPTIONAL:
                skipped.append(f"{name} ({e})")
                continue
            raise
    for mod in mods:
        if not (mod.__doc__ or "").strip():
            missing.append(mod.__name__)
        for name in public(mod):
            try:
                obj = getattr(mod, name)
            except ImportError as e:  # a lazily imported submodule whose extra is not installed
                skipped.append(f"{mod.__name__}.{name} ({e})")
                continue
            if inspect.ismodule(obj) or not (inspect.isclass(obj) or callable(obj)):
                continue  # constants (PRECISIONS, NO_ID) are documented on the reference page
            checked += 1
            if not (inspect.getdoc(obj) or "").strip():
                missing.append(f"{mod.__name__}.{name}")
            if inspect.isclass(obj) and obj.__module__.startswith("vectro"):
                for m, _v in members(obj):
                    checked += 1
                    # inspect.getdoc inherits: an override of a framework's method (LangChain's
                    # VectorStore.similarity_search) is documented by the interface it implements
                    doc = inspect.getdoc(getattr(obj, m, None))
                    if not (doc or "").strip():
                        missing.append(f"{mod.__name__}.{name}.{m}")
    for s in dict.fromkeys(skipped):
        print(f"check_docstrings: skipped {s}")
    if missing:
        print(f"check_docstrings: {len(missing)} public names without a docstring:")
        for m in sorted(set(missing)):
            print("  " + m)
        return 1
    print(f"check_docstrings: {checked} public names documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
