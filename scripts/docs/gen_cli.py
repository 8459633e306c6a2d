"""gen_cli.py: writes the command-line reference (Markdown) from `vectro --help` and
`vectro COMMAND --help`, so the page always says what the installed command says.
Usage: gen_cli.py OUT.md [VECTRO_EXECUTABLE]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys


def help_text(exe: str, *args: str) -> str:
    p = subprocess.run([exe, *args, "--help"], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit(f"{exe} {' '.join(args)} --help exited {p.returncode}: {p.stderr.strip()}")
    return (p.stdout or p.stderr).rstrip()


def main() -> None:
    dst = sys.argv[1]
    exe = sys.argv[2] if len(sys.argv) > 2 else shutil.which("vectro")
    if not exe:
        raise SystemExit("gen_cli.py: no `vectro` command on PATH (pip install . first)")
    top = help_text(exe)
    # The command list: indented "  name   description" lines after "commands:".
    block = top.split("commands:", 1)[1] if "commands:" in top else ""
    commands = re.findall(r"^  ([a-z][a-z-]*)\s{2,}", block, flags=re.M)
    if not commands:
        raise SystemExit("gen_cli.py: found no commands in `vectro --help`")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    out = [
        "# Command-line reference",
        "",
        f"Generated from the installed command's own help (`{version}`) by `scripts/docs/gen_cli.py`.",
        "`python -m vectro FILE.npy [--queries Q.npy]` prints a one-page quality and speed report;",
        "`vectro-dask` (extra `distributed`) is described in [Dask](../distributed.md).",
        "",
        "## Exit codes",
        "",
        "| code | meaning |",
        "|---|---|",
        "| 0 | success |",
        "| 1 | the data cannot be compressed as asked (NaN/Inf, a value out of the codec's range) |",
        "| 2 | usage error (also: a codec parameter the data cannot take, two files that do not match,"
        " output = input) |",
        "| 3 | an unreadable, malformed or corrupt file, or one that cannot be written (the message names it) |",
        "| 4 | internal error or out of memory |",
        "",
        "## vectro",
        "",
        "```text",
        top,
        "```",
        "",
    ]
    for cmd in commands:
        out += [f"## vectro {cmd}", "", "```text", help_text(exe, cmd), "```", ""]
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
