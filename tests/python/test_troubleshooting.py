"""docs/guides/troubleshooting.md covers every error message a user can meet: each message the
sources raise (read by scripts/docs/gen_errors.py, the same scan that writes the error catalogue)
is matched by a message pattern quoted on the page, where `…` stands for any text and numbers and
quoted names are examples. Argument checks (ValueError, TypeError, VEC_E_INVALID_ARG) name the
argument and what it accepts; the page explains them as a kind, which must be there. Messages that
are nothing but a value filled in at run time (another library's error passed on) are skipped."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "guides" / "troubleshooting.md"
ARGUMENT_KINDS = {"ValueError", "TypeError", "VEC_E_INVALID_ARG", "AttributeError", "type"}


def messages():
    sys.path.insert(0, str(ROOT / "scripts" / "docs"))
    try:
        import gen_errors
    finally:
        sys.path.pop(0)
    return gen_errors.scan(str(ROOT))


def normalise(s: str) -> str:
    """Values become `…`: numbers, quoted names, file names, a leading "name:" (the path or
    function a message starts with), printf leftovers such as "…u"."""
    s = re.sub(r"'[^']*'", "'…'", s)
    s = re.sub(r"[\w./-]+\.(?:vqz|vqc|npy|fvecs|json|parquet|pdf)\b", "…", s)
    s = re.sub(r"^[\w./-]+:", "…:", s)
    s = re.sub(r"\d+", "…", s)
    s = re.sub(r"…u\b", "…", s)
    return re.sub(r"…+", "…", s)


def as_regex(norm: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(p) for p in norm.split("…")), re.S)


def page_messages() -> list[str]:
    """The quoted messages of the page: ``double`` code spans (messages holding a backtick),
    then `single` ones, each normalised; spans with too little text to identify a message
    (`k`, `…: …`) are left out."""
    text = PAGE.read_text(encoding="utf-8")
    spans = re.findall(r"``\s?(.+?)\s?``", text)
    spans += re.findall(r"`([^`\n]+)`", re.sub(r"``.+?``", "", text))
    out = [normalise(s.replace("\\|", "|")) for s in spans]
    return [s for s in out if len(re.sub(r"[…\W]", "", s)) >= 8]


def covered(norm: str, page: list[str], regexes: list[re.Pattern]) -> bool:
    """The page quotes this message: a quoted pattern matches it, or (the message's own `…`
    standing for text the page spells out) it matches a quoted example."""
    mine = as_regex(norm)
    return any(r.search(norm) for r in regexes) or any(mine.search(p) for p in page)


def test_every_error_message_has_an_entry():
    page = page_messages()
    regexes = [as_regex(p) for p in page]
    assert len(page) > 50
    missing = []
    for kind, msg, src in messages():
        if kind in ARGUMENT_KINDS:
            continue
        norm = normalise(msg)
        if len(re.sub(r"[…\W]", "", norm)) < 8:  # only values: another library's message passed on
            continue
        if not covered(norm, page, regexes):
            missing.append(f"{kind}: {msg}  ({src})")
    assert not missing, (f"{len(missing)} error messages have no entry in {PAGE.name} (quote the message, `…` for "
                         "values, in a table with what it means and what to do):\n" + "\n".join(missing))


@pytest.mark.parametrize("kind", sorted(ARGUMENT_KINDS - {"type", "AttributeError"}))
def test_argument_errors_are_explained_as_a_kind(kind):
    assert kind in PAGE.read_text(encoding="utf-8")
