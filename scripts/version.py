#!/usr/bin/env python3
"""version.py: prints Vectro's version from its single source, include/vectro.h.

    python3 scripts/version.py              prints MAJOR.MINOR.PATCH
    python3 scripts/version.py --check X    exits 1 unless X is that version (a release tag check)
"""

import re
import sys
from pathlib import Path

HEADER = Path(__file__).resolve().parent.parent / "include" / "vectro.h"


def version() -> str:
    text = HEADER.read_text()
    parts = [re.search(rf"^#define VEC_VERSION_{p}\s+(\d+)", text, re.M) for p in ("MAJOR", "MINOR", "PATCH")]
    if not all(parts):
        sys.exit(f"version.py: VEC_VERSION_MAJOR/MINOR/PATCH not found in {HEADER}")
    return ".".join(m.group(1) for m in parts)


if __name__ == "__main__":
    v = version()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        if sys.argv[2] != v:
            sys.exit(f"version.py: {sys.argv[2]!r} is not the version in include/vectro.h ({v})")
        print(f"version {v}: matches")
    elif len(sys.argv) == 1:
        print(v)
    else:
        sys.exit(__doc__)
