"""gen_c_api.py: writes the C API reference (Markdown) from the doc blocks of include/vectro.h.

The header is the manual (one comment block per declaration, banner comments per section), so a
small reader of its own layout is enough: no doxygen. Usage: gen_c_api.py HEADER OUT.md
"""

from __future__ import annotations

import re
import sys

DECL_NAME = re.compile(
    r"typedef\s+struct\s+\w+\s+(vec_\w+)\s*;"  # typedef struct vec_codec_s vec_codec;
    r"|\b(vec_\w+)\s*\("  # a function
    r"|typedef\s+(?:struct|enum)\s+(vec_\w+)"  # typedef struct vec_x { ... }
    r"|\}\s*(vec_\w+)\s*;"
    r"|typedef\s+.*\(\*\s*(vec_\w+)\)"  # a function pointer type
)


def escape(text: str) -> str:
    """Markdown-escapes prose outside `code spans` (C comments use *, _ and < as plain text)."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        p = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        parts[i] = re.sub(r"([*_\\\[\]])", r"\\\1", p)
    return "`".join(parts) if len(parts) % 2 == 1 else "\\`".join(parts)


def comment_lines(block: list[str]) -> list[str]:
    """The text of a /* */ or /** */ comment, leading ' * ' removed, indentation beyond it kept."""
    out = []
    for line in block:
        s = line.strip()
        s = re.sub(r"^/\*\*?", "", s)
        s = re.sub(r"\*/$", "", s)
        s = re.sub(r"^\*(?!/)", "", s) if not line.strip().startswith("/*") else s
        out.append(s[1:] if s.startswith(" ") else s)
    while out and not out[-1].strip():
        out.pop()
    while out and not out[0].strip():
        out.pop(0)
    return out


def prose(lines: list[str]) -> str:
    """Paragraphs of comment text; lines indented by 3 or more (formulas, tables) stay verbatim."""
    md, para, verb = [], [], []
    tags: list[str] = []  # @param / @return items, one list entry each; indented lines continue them

    def flush():
        if para:
            md.append(escape(" ".join(x.strip() for x in para)))
            para.clear()
        if verb:
            md.append("```text\n" + "\n".join(verb) + "\n```")
            verb.clear()
        if tags:
            md.append("\n".join("- " + escape(t) for t in tags))
            tags.clear()

    for line in lines:
        if not line.strip():
            flush()
        elif line.lstrip().startswith("@"):
            if para or verb:
                flush()
            tags.append(" ".join(line.split()))
        elif tags:
            tags[-1] += " " + line.strip()
        elif line.startswith("   "):
            if para:
                flush()
            verb.append(line.rstrip())
        else:
            if verb:
                flush()
            para.append(line)
    flush()
    text = "\n\n".join(md)
    text = re.sub(r"@return\b", "**Returns:**", text)
    return re.sub(r"@param (\S+)", lambda m: "**`" + m.group(1).replace("\\", "") + "`**:", text)


def convert(src: str) -> str:
    lines = src.splitlines()
    # Skip the include guard and export macro: start at the first section banner.
    start = next(i for i, x in enumerate(lines) if x.startswith("/* ----"))
    end = max(i for i, x in enumerate(lines) if x.startswith("#ifdef __cplusplus"))
    out = [
        "# C API reference",
        "",
        "Generated from the doc blocks of `include/vectro.h`"
        " by `scripts/docs/gen_c_api.py`; the header itself is the authoritative manual. Link with"
        " `-lvectro` (CMake target `vectro`), include `vectro.h`. Every fallible function returns"
        " `VEC_OK` (0) or a negative `VEC_E_*` code; `vec_last_error_message()` gives the detail.",
        "",
    ]
    i = start
    while i < end:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("/* ----"):  # a section banner: title, then prose
            block = [line]
            i += 1
            while i < end and not lines[i].rstrip().endswith("*/"):
                block.append(lines[i])
                i += 1
            i += 1
            body = [x for x in comment_lines(block[1:]) if not x.startswith("----")]
            if body:
                out += ["## " + body[0].strip().rstrip("."), ""]
                text = prose(body[1:])
                if text:
                    out += [text, ""]
            continue
        doc: list[str] = []
        if line.lstrip().startswith("/*"):  # a comment that documents the code after it
            block = [line]
            while not lines[i].rstrip().endswith("*/"):
                i += 1
                block.append(lines[i])
            i += 1
            doc = comment_lines(block)
        code = []
        while i < end and lines[i].strip() and not lines[i].startswith("/*"):
            code.append(lines[i].replace("VEC_API ", ""))
            i += 1
        if code:
            bare = re.sub(r"/\*.*?\*/", "", "\n".join(code), flags=re.S)  # names in comments do not count
            m = DECL_NAME.search(bare) if not bare.lstrip().startswith("#") else None
            name = next((g for g in m.groups() if g), None) if m else None
            # a block declaring several functions under one doc block (vec_index_codec and
            # vec_index_rerank) is headed by all of them, so each is in the contents and search
            more = [f for f in re.findall(r"\b(vec_\w+)\s*\(", bare) if f != name] if name else []
            if name:
                out += [f"### {', '.join(dict.fromkeys([name, *more]))}", ""]
            out += ["```c", *code, "```", ""]
        if doc:
            out += [prose(doc), ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    header, dst = sys.argv[1], sys.argv[2]
    with open(header, encoding="utf-8") as f:
        text = convert(f.read())
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
