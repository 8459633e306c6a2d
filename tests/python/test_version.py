"""One version source (include/vectro.h): the package metadata, vectro.__version__, the C library
and `vectro --version` all report it."""
import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
import vectro

HEADER = Path(__file__).resolve().parents[2] / "include" / "vectro.h"


def header_version():
    text = HEADER.read_text()
    return ".".join(re.search(rf"^#define VEC_VERSION_{p}\s+(\d+)", text, re.M).group(1)
                    for p in ("MAJOR", "MINOR", "PATCH"))


def test_versions_agree():
    v = vectro.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", v)
    assert version("vectro") == v
    assert vectro.get_backend_info()["version"] == v
    if HEADER.exists():  # a source checkout (not an installed wheel tested elsewhere)
        assert header_version() == v


@pytest.mark.skipif(shutil.which("vectro") is None, reason="the vectro command is not on PATH")
def test_cli_version():
    out = subprocess.run(["vectro", "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"vectro {vectro.__version__}"
