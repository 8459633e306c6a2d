"""The public Python API the docs site documents, enumerated: vectro.__all__, the public names of
vectro.cuda, vectro.integrations and each integration module, vectro.distributed, and the public
methods and properties of every class among them. Used by test_api_docs.py (each name has a
docstring, types and an example) and runnable as a script that lists what is missing."""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from dataclasses import dataclass, is_dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# the modules whose names the Python reference page (docs/reference/python.md) renders
MODULES = ["vectro", "vectro.cuda", "vectro.integrations", "vectro.integrations.pgvector",
           "vectro.integrations.qdrant", "vectro.integrations.milvus", "vectro.integrations.weaviate",
           "vectro.integrations.pinecone", "vectro.integrations.faiss", "vectro.integrations.datasets",
           "vectro.integrations.langchain", "vectro.integrations.llama_index", "vectro.distributed"]
# names that are documented as constants on the reference page, not as callables
CONSTANT = (str, int, float, bytes, tuple, dict, frozenset, list)
# Google-style "name (type): text" entries, and a typed "Returns:" section ("type: text")
ARG = re.compile(r"^\s+\*{0,2}(\w+)\s*\(([^)]+)\)\s*:", re.M)
SECTION = re.compile(r"^(\w[\w ]*):\s*$", re.M)


@dataclass
class Name:
    qualname: str  # vectro.Index.search
    obj: object  # the function, property or class
    kind: str  # "function", "class", "method", "property"
    owner: type | None = None
    interface: str | None = None  # the framework class whose method this overrides (LangChain's...)


def _unwrap(v):
    return v.__func__ if isinstance(v, (staticmethod, classmethod)) else v


def _own_members(cls):
    """Public methods and properties defined in cls or in a vectro base class (the site shows the
    ones a user calls on the class, wherever vectro defines them), not a framework's."""
    seen = {}
    for base in reversed(cls.__mro__):
        if not base.__module__.startswith("vectro"):
            continue
        for name, v in vars(base).items():
            if name.startswith("_"):
                continue
            v = _unwrap(v)
            if inspect.isfunction(v):
                seen[name] = (v, "method")
            elif isinstance(v, property):
                seen[name] = (v, "property")
    return sorted(seen.items())


def _interface(cls, name: str) -> str | None:
    """The first framework (non-vectro) base class that defines ``name``: a LangChain or LlamaIndex
    method that a vectro class implements, documented by that interface."""
    for base in cls.__mro__[1:]:
        if not base.__module__.startswith("vectro") and name in vars(base):
            return f"{base.__module__}.{base.__qualname__}"
    return None


def public_api(modules=MODULES):
    """(names, skipped): every public Name of ``modules``, and "module (reason)" for modules or
    names whose optional package is not installed here."""
    names, skipped, done = [], [], set()
    for modname in modules:
        try:
            mod = importlib.import_module(modname)
        except ImportError as e:
            skipped.append(f"{modname} ({e})")
            continue
        names_here = getattr(mod, "__all__", None)
        if names_here is None:  # no __all__: the public names the module itself defines
            names_here = [n for n, v in vars(mod).items() if not n.startswith("_")
                          and getattr(v, "__module__", "") == mod.__name__]
        for attr in names_here:
            try:
                obj = getattr(mod, attr)
            except ImportError as e:  # a lazily imported class whose framework is not installed
                skipped.append(f"{modname}.{attr} ({e})")
                continue
            if inspect.ismodule(obj) or isinstance(obj, CONSTANT) or attr.startswith("_"):
                continue
            qual = f"{modname}.{attr}"
            if id(obj) in done:  # Store = PgVectorStore, Originals re-exported: documented once
                continue
            done.add(id(obj))
            if inspect.isclass(obj):
                names.append(Name(qual, obj, "class"))
                for m, (v, kind) in _own_members(obj):
                    names.append(Name(f"{qual}.{m}", v, kind, obj, _interface(obj, m)))
            elif callable(obj):
                names.append(Name(qual, obj, "function"))
    return names, skipped


def _sections(doc: str) -> dict:
    out, cur = {}, None
    for line in doc.splitlines():
        m = SECTION.match(line)
        if m and m.group(1) in ("Args", "Arguments", "Parameters", "Returns", "Yields", "Raises",
                                "Example", "Examples", "Attributes"):
            cur = m.group(1)
            out[cur] = ""
        elif cur:
            out[cur] += line + "\n"
    return out


def _untyped_params(fn, doc: str, skip_first: bool) -> list[str]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    typed = {m.group(1) for m in ARG.finditer(_sections(doc).get("Args", "")
                                              + _sections(doc).get("Parameters", ""))}
    params = list(sig.parameters.values())
    if skip_first and params:
        params = params[1:]
    out = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.annotation is inspect.Parameter.empty and p.name not in typed:
            out.append(p.name)
    return out


def problems(n: Name) -> list[str]:
    """What n lacks: "docstring", "types (...)", "example". A method implementing a framework's
    interface (VectorStore.asimilarity_search, BaseModel.model_post_init, ...) needs a docstring,
    its own or the interface's; the site documents it there, and its class's example shows it."""
    obj = n.obj
    doc = inspect.getdoc(obj) or ""
    if n.kind == "property":
        doc = inspect.cleandoc(obj.__doc__ or "")
    out = []
    if n.interface is not None:
        inherited = inspect.getdoc(getattr(n.owner, n.qualname.rsplit(".", 1)[1], None)) or ""
        return [] if (doc or inherited).strip() else [f"docstring (nor one from {n.interface})"]
    if not doc.strip():
        return ["docstring"]
    if n.kind == "property":
        if "return" not in getattr(obj.fget, "__annotations__", {}):
            out.append("types (no return annotation)")
    elif n.kind == "class":
        if is_dataclass(obj) or issubclass(obj, BaseException):
            pass  # fields are annotated; exceptions take a message
        else:
            init = obj.__dict__.get("__init__")
            if init is not None and inspect.isfunction(init):
                bare = _untyped_params(init, doc, True)
                if bare:
                    out.append(f"types (untyped: {', '.join(bare)})")
    else:
        fn = obj
        ann = getattr(fn, "__annotations__", {})
        secs = _sections(doc)
        if "return" not in ann and not secs.get("Returns", "").strip():
            out.append("types (no return type)")
        bare = _untyped_params(fn, doc, n.kind == "method")
        if bare:
            out.append(f"types (untyped: {', '.join(bare)})")
    if ">>>" not in doc:
        out.append("example")
    return out


def main() -> int:
    names, skipped = public_api()
    bad = [(n.qualname, p) for n in names if (p := problems(n))]
    for s in skipped:
        print(f"skipped {s}")
    for q, p in bad:
        print(f"{q}: {'; '.join(p)}")
    own = [n for n in names if n.interface is None]
    print(f"{len(names)} public names ({len(names) - len(own)} of them a framework interface's methods), "
          f"{len(bad)} incomplete ({sum('example' in p for _, p in bad)} without an example)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
