"""griffe_vectro.py: a griffe extension used only by the docs build. The package's docstrings are
Google style with reST touches; this makes them render as intended without editing them:
"Example:" (an admonition to griffe) becomes "Examples:" (rendered as a Python console block),
reST roles (:meth:`x`, :class:`x`) become Markdown code spans, and doctest directives
("# doctest: +SKIP", for the test runner) are dropped from the rendered examples."""

from __future__ import annotations

import re

from griffe import Extension

ROLE = re.compile(r":(?:meth|class|func|attr|mod|data|exc):`~?([^`]+)`")
EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.M)
DIRECTIVE = re.compile(r"[ \t]*#\s*doctest:[^\n]*")


class VectroDocstrings(Extension):
    def _fix(self, obj) -> None:
        doc = getattr(obj, "docstring", None)
        if doc is not None and doc.value:
            doc.value = DIRECTIVE.sub("", EXAMPLE.sub(r"\1Examples:", ROLE.sub(r"`\1`", doc.value)))

    def on_instance(self, *, obj, **kwargs) -> None:  # griffe >= 1: every object once loaded
        self._fix(obj)
