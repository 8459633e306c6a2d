"""Bridges to other libraries (FAISS, Hugging Face datasets, LangChain, LlamaIndex), one module each.

Each module imports its library only when it is used, and each library comes with its own pip
extra (``pip install vectro[faiss]``, ``[datasets]``, ``[langchain]``, ``[llama-index]``), so
``import vectro`` never pulls any of them in.
"""

from __future__ import annotations

import importlib


def require(module: str, extra: str, what: str):
    """Imports ``module`` or raises ImportError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{what} needs {module.split('.')[0]}: pip install 'vectro[{extra}]'") from e
