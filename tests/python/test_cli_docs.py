"""The command lines the documentation shows exist: every `vectro COMMAND ... --option` in the
guides, the in-depth pages, the README, the examples and the notebooks names a command that
`vectro --help` lists and options that `vectro COMMAND --help` documents. (The CLI reference page
itself is generated from those help texts by scripts/docs/gen_cli.py, so it cannot differ.)"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATED = {"cli.md", "c-api.md", "errors.md"}
SOURCES = ([p for p in (ROOT / "docs").rglob("*.md") if p.name not in GENERATED and "tutorials" not in p.parts]
           + [ROOT / "README.md"] + sorted((ROOT / "examples").glob("*.sh"))
           + sorted((ROOT / "notebooks").glob("*.py")))
# `vectro` then a command word, then the rest of the command line (a code span or a shell line)
USE = re.compile(r"(?<![\w.-])vectro ((?:[a-z]+))((?:[ \t]+(?:\\\n)?[^\s`|)]+)*)")


def vectro_exe():
    exe = Path(sys.executable).with_name("vectro")
    return str(exe) if exe.exists() else shutil.which("vectro")


def help_of(exe, *cmd):
    p = subprocess.run([exe, *cmd, "--help"], capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


def uses():
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for m in USE.finditer(text):
            yield path.relative_to(ROOT), m.group(1), re.findall(r"(?<!\S)(--?[a-z][a-z-]*)", m.group(2))


def test_documented_command_lines_exist():
    exe = vectro_exe()
    if exe is None:
        pytest.skip("no `vectro` command installed beside this Python or on PATH")
    top = help_of(exe)
    commands = set(re.findall(r"^  ([a-z][a-z-]*)\s{2,}", top.split("commands:", 1)[1], re.M))
    helps, bad = {}, []
    for path, cmd, opts in uses():
        if cmd not in commands:
            continue  # prose ("vectro is", "vectro codes") rather than a command line
        text = helps.setdefault(cmd, help_of(exe, cmd))
        for o in opts:
            if o in ("--help", "-h"):
                continue
            if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text):
                bad.append(f"{path}: vectro {cmd} {o}")
    assert helps, "found no documented vectro command lines"
    assert not bad, "options the documentation shows that `vectro COMMAND --help` does not list:\n" + \
        "\n".join(sorted(set(bad)))

