"""gen_errors.py: writes the catalogue of every error message Vectro can raise (Markdown), read from
the sources: vec_fail() in the C library, raise in the Python package, PyErr_* in the extension and
the CLI's messages on stderr. Usage: gen_errors.py REPO_ROOT OUT.md
"""

from __future__ import annotations

import os
import re
import sys

LIT = r'(?:"(?:[^"\\\n]|\\.)*"\s*)+'  # adjacent C string literals
PYLIT = r"""(?:[rfb]?(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*)+"""  # adjacent Python literals

C_FAIL = re.compile(r"vec_fail\(\s*(VEC_E_[A-Z_]+)\s*,[^,]*,\s*(" + LIT + ")")
C_FAIL_OS = re.compile(r"vec_fail_os\(\s*[^,]*,\s*(" + LIT + ")")  # VEC_E_IO with its errno
C_PYERR = re.compile(r"PyErr_(?:Format|SetString)\(\s*(?:PyExc_)?(\w+)\s*,\s*(" + LIT + ")")
C_CLI = re.compile(r"fprintf\(\s*stderr\s*,\s*(" + LIT + ")")
PY_RAISE = re.compile(r"raise\s+(?:_core\.)?(\w+)\(\s*(" + PYLIT + ")")

# What each kind of error means, and what to do (the catalogue's table keys).
KINDS = {
    "VEC_E_INVALID_ARG": "a wrong argument (Python: VectroError or ValueError; CLI: exit 2): fix the call",
    "VEC_E_NONFINITE": "NaN or Inf in the input; the message names the row: clean or drop that row",
    "VEC_E_NOMEM": "an allocation failed (Python: MemoryError): smaller batches or chunk_rows",
    "VEC_E_CANCELLED": "the progress callback stopped the call",
    "VEC_E_UNSUPPORTED": "this CPU lacks the forced instruction set: use set_backend('auto')",
    "VEC_E_OVERFLOW": "sizes too large for this machine's size_t: split the batch",
    "VEC_E_THREAD": "a worker thread could not start: fewer threads, or raise the process limit",
    "VEC_E_RANGE": "a value the codec cannot hold (e.g. |x| >= 65520 for f16): another codec, or rescale",
    "VEC_E_NOT_TRAINED": "a codec that needs training used untrained: Codec.fit(sample) first",
    "VEC_E_FORMAT": "a file or serialized codec is truncated, corrupt or not Vectro's (CLI: exit 3)",
    "VEC_E_VERSION": "written by a newer Vectro: upgrade",
    "VEC_E_IO": "the operating system refused a read, write or rename; the errno text says why (Python: "
                "VectroIOError, an OSError with errno and filename; CLI: exit 3)",
}


def literal_text(lits: str, python: bool) -> str:
    pattern = r"""[rfb]?("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')""" if python else r'"((?:[^"\\\n]|\\.)*)"'
    parts = re.findall(pattern, lits)
    text = "".join(p[1:-1] if python else p for p in parts)
    text = re.sub(r"%[-+ #0-9.]*(?:l|ll|z|h)?[a-zA-Z]|%\.\*s", "…", text)  # printf conversions
    text = re.sub(r"\{[^{}]*\}", "…", text) if python else text  # f-string fields
    text = text.replace("\\n", "").replace('\\"', '"').replace("\\'", "'")
    return " ".join(text.split())


def md_cell(s: str) -> str:
    return "`" + s.replace("`", "'").replace("|", "\\|") + "`" if s else "(built at run time)"


def scan(root: str):
    rows = []  # (kind, message, file)
    for base, _, files in os.walk(root):
        if any(x in base for x in ("/.venv", "/build", "/.git", "/tests", "/bench")):
            continue
        for name in files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root)
            if not (rel.startswith("src/") or rel.startswith("python/vectro")):
                continue
            if not name.endswith((".c", ".h", ".py", ".cu")):
                continue
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if name.endswith(".py"):
                for m in PY_RAISE.finditer(text):
                    kind = "VectroIOError" if m.group(1) == "_io_error" else m.group(1)
                    rows.append((kind, literal_text(m.group(2), True), rel))
                continue
            for m in C_FAIL.finditer(text):
                rows.append((m.group(1), literal_text(m.group(2), False), rel))
            for m in C_FAIL_OS.finditer(text):
                rows.append(("VEC_E_IO", literal_text(m.group(1), False), rel))
            for m in C_PYERR.finditer(text):
                rows.append((m.group(1), literal_text(m.group(2), False), rel))
            if rel.startswith("src/cli/"):
                for m in C_CLI.finditer(text):
                    msg = literal_text(m.group(1), False)
                    if msg.startswith("vectro") and ":" in msg:
                        rows.append(("CLI", msg, rel))
    return sorted(set(rows))


def main() -> None:
    root, dst = sys.argv[1], sys.argv[2]
    rows = scan(root)
    out = [
        "# Error catalogue",
        "",
        f"Every message the sources can raise ({len(rows)}), read from them by `scripts/docs/gen_errors.py` when the"
        " site is built. `…` stands for a value filled in at run time (a path, a row, a size). The"
        " [troubleshooting guide](../guides/troubleshooting.md) explains the ones users meet most.",
        "",
        "## What each kind means",
        "",
        "| C code | meaning and what to do |",
        "|---|---|",
        *(f"| `{k}` | {v} |" for k, v in KINDS.items()),
        "",
        "In Python every library error is `vectro.VectroError` (a `ValueError`) carrying the message below, except"
        " `VEC_E_NOMEM` (`MemoryError`) and `VEC_E_IO` (`vectro.VectroIOError`, both a `VectroError` and an"
        " `OSError`); the CLI prints the message after the command's name and exits"
        " with the code in the [CLI reference](cli.md).",
        "",
    ]
    groups = [
        ("C library (`vec_fail`)", lambda r: r[0].startswith("VEC_E_")),
        ("Python extension (`_core*.c`)", lambda r: r[2].startswith("python/vectro/_core") and r[2].endswith(".c")),
        ("Python package", lambda r: r[2].endswith(".py")),
        ("Command line", lambda r: r[0] == "CLI"),
    ]
    for title, keep in groups:
        sel = [r for r in rows if keep(r)]
        out += [f"## {title}", "", "| raised as | message | source |", "|---|---|---|"]
        out += [f"| `{k}` | {md_cell(m)} | `{f}` |" for k, m, f in sel]
        out.append("")
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
