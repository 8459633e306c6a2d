"""What a user reads says nothing they cannot see: no issue numbers, internal design notes
(DESIGN.md, STYLE.md), prototypes or development sessions in the README, BENCHMARKS.md, the docs
pages, the notebooks and the examples. (The development guide may name the repository's own
files; it says nothing of the kind either.)"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = {"cli.md", "c-api.md", "errors.md"}
INTERNAL = re.compile(r"\bissues? ?#?\d+|\bDESIGN\.md|\bSTYLE\.md|\bdesign notes\b|\bprototype\b|(?-i:\bHELPERS\b)|"
                      r"\bthe integrator\b|\bs3-\d+", re.I)


def pages():
    yield ROOT / "README.md"
    yield ROOT / "BENCHMARKS.md"
    yield from (p for p in sorted((ROOT / "docs").rglob("*.md")) if p.name not in GENERATED
                and "tutorials" not in p.parts)
    for folder, pattern in (("notebooks", "*.py"), ("examples", "*.py"), ("examples", "*.c"), ("examples", "*.sh")):
        yield from sorted((ROOT / folder).rglob(pattern))


def test_no_internal_history_in_user_facing_text():
    found = []
    for path in pages():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in INTERNAL.finditer(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {m.group(0)!r} in {line.strip()[:100]}")
    assert not found, "internal history a user cannot see:\n" + "\n".join(found)
