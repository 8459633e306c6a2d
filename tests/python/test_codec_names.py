"""The codec-name grammar is the library's (vec_codec_params_parse): Python's Codec(precision) and
the CLI's --codec read every name the same way, refuse a bad one with the same message, and the
canonical name each prints reads back to the same codec. The C side of the table: tests/c/test_names.c."""
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import vectro
from vectro import _core

VECTRO = shutil.which("vectro")
HERE = Path(__file__).parent

# name -> (codec, group_size, bits, m, canonical): the same rows as tests/c/test_names.c
GOOD = {
    "int8": ("int8", 0, 0, 0, "int8"),
    "INT8": ("int8", 0, 0, 0, "int8"),
    "int16": ("int16", 0, 0, 0, "int16"),
    "int4": ("int4", 0, 0, 0, "int4"),
    "int4-g32": ("int4", 32, 0, 0, "int4-g32"),
    "Int4-G016": ("int4", 16, 0, 0, "int4-g16"),
    "f16": ("f16", 0, 0, 0, "f16"),
    "float16": ("f16", 0, 0, 0, "f16"),
    "fp16": ("f16", 0, 0, 0, "f16"),
    "half": ("f16", 0, 0, 0, "f16"),
    "bf16": ("bf16", 0, 0, 0, "bf16"),
    "bfloat16": ("bf16", 0, 0, 0, "bf16"),
    "binary": ("binary", 0, 0, 0, "binary"),
    "ubinary": ("binary", 0, 0, 0, "binary"),
    "uint8": ("uint8-cal", 0, 0, 0, "uint8-cal"),
    "uint8-cal": ("uint8-cal", 0, 0, 0, "uint8-cal"),
    "int8-cal": ("int8-cal", 0, 0, 0, "int8-cal"),
    "uint4": ("uint4-cal", 0, 0, 0, "uint4-cal"),
    "uint6-cal": ("uint6-cal", 0, 0, 0, "uint6-cal"),
    "rabitq": ("rabitq", 0, 0, 0, "rabitq"),
    "rabitq-4": ("rabitq", 0, 4, 0, "rabitq-4"),
    "RaBitQ-1": ("rabitq", 0, 1, 0, "rabitq-1"),
    "pq": ("pq", 0, 0, 0, "pq"),
    "pq-48x4": ("pq", 0, 4, 48, "pq-48x4"),
    "PQ-96X8": ("pq", 0, 8, 96, "pq-96x8"),
}

BAD = {
    "": "unknown precision ''",
    "int3": "unknown precision 'int3'",
    "float64": "unknown precision 'float64'",
    "int8 ": "unknown precision 'int8 '",
    "int8-cal-": "unknown precision",
    "uint8-calé": "unknown precision",
    "é": "unknown precision",
    "int4-g": "int4 with groups is 'int4-g<N>'",
    "int4-g0": "int4 with groups is 'int4-g<N>'",
    "int4-g-3": "int4 with groups is 'int4-g<N>'",
    "int4-g32x": "int4 with groups is 'int4-g<N>'",
    "int4-g4294967296": "int4 with groups is 'int4-g<N>'",
    "int4-g٣": "int4 with groups is 'int4-g<N>'",  # str.isdigit() said yes to this one before
    "rabitq-": "rabitq precision is 'rabitq-<bits>'",
    "rabitq4": "rabitq precision is 'rabitq-<bits>'",
    "rabitq-0": "rabitq precision is 'rabitq-<bits>'",
    "pq-": "pq precision is 'pq-<m>x<bits>'",
    "pq-48": "pq precision is 'pq-<m>x<bits>'",
    "pq-x4": "pq precision is 'pq-<m>x<bits>'",
    "pq-48x4x2": "pq precision is 'pq-<m>x<bits>'",
    "pq-0x4": "pq precision is 'pq-<m>x<bits>'",
    "pq-99999999999999999999x4": "pq precision is 'pq-<m>x<bits>'",
    "pq-4x99999999999999999999": "pq precision is 'pq-<m>x<bits>'",
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_names(name):
    codec, group, bits, m, canonical = GOOD[name]
    assert _core.codec_parse(name) == (codec, group, bits, m)
    assert _core.codec_name(codec, group, bits, m) == canonical
    assert _core.codec_parse(canonical) == (codec, group, bits, m)  # the printed name reads back
    c = vectro.Codec(name)
    assert c.precision == canonical or (name.lower().startswith("rabitq") and not bits)
    assert vectro.Codec(c.precision).precision == c.precision


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_names_same_message_and_type(name):
    with pytest.raises(ValueError) as direct:
        _core.codec_parse(name)
    assert str(direct.value).startswith(BAD[name])
    with pytest.raises(ValueError) as via_codec:
        vectro.Codec(name)
    assert str(via_codec.value) == str(direct.value)


def test_not_a_string_is_a_type_error():
    for bad in (None, 8, b"int8"):
        with pytest.raises(TypeError):
            vectro.Codec(bad)


def _names_in_the_tests() -> set[str]:
    """Every quoted string in the Python tests that looks like a codec name."""
    shape = re.compile(r"""["']((?:u?int\d+|f16|bf16|u?binary|float16|fp16|half|bfloat16)(?:-cal|-g\d+)?|"""
                       r"""rabitq(?:-\d+)?|pq(?:-\d+x\d+)?)["']""")
    names = set()
    for f in HERE.glob("test_*.py"):
        names.update(shape.findall(f.read_text(encoding="utf-8")))
    return names


def test_every_name_in_the_tests_parses_and_round_trips():
    names = _names_in_the_tests()
    assert {"int8", "int4-g32", "rabitq-4", "pq-48x4", "uint8"} <= names, names
    for name in names - set(BAD):
        try:
            parsed = _core.codec_parse(name)
        except ValueError:
            assert name.startswith(("int3", "int2", "int32", "int64", "uint16")), name  # names tests refuse
            continue
        canonical = _core.codec_name(*parsed)
        assert _core.codec_parse(canonical) == parsed, name


@pytest.fixture(scope="module")
def small_npy(tmp_path_factory):
    p = tmp_path_factory.mktemp("names") / "x.npy"
    np.save(p, np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32))
    return p


def _cli(*args):
    return subprocess.run([VECTRO, *map(str, args)], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
@pytest.mark.parametrize("name", ["", "int3", "int4-g0", "int4-g٣", "rabitq4", "pq-48x4x2",
                                  "pq-99999999999999999999x4", "uint8-calé"])
def test_cli_refuses_bad_names_with_the_same_message(small_npy, name):
    with pytest.raises(ValueError) as py:
        vectro.Codec(name)
    r = _cli("eval", "--codec", name, small_npy)
    assert r.returncode == 2, r.stderr
    assert f"vectro eval: {py.value} (see `vectro codecs`)" in r.stderr


@pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
@pytest.mark.parametrize("name", ["INT8", "fp16", "bfloat16", "ubinary", "Int4-G016", "uint4", "int8-cal",
                                  "RaBitQ-2", "pq-4x4"])
def test_cli_reads_names_as_python_does(small_npy, name):
    r = _cli("eval", "--codec", name, small_npy)
    assert r.returncode == 0, r.stderr
    label = re.search(r", codec (\S+)$", r.stdout, re.M).group(1)
    # the canonical name, or (uint8/uint4/uint6) the CLI's short alias of it: the same codec
    assert vectro.Codec(label).precision == vectro.Codec(name).precision
    assert label == vectro.Codec(name).precision or label in ("uint8", "uint4", "uint6")
