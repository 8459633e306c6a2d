"""The command line as a new user met it (issue 12): output == input refused, --metadata checked,
exit codes from the README table, one codec name everywhere (the one --codec takes back), the same
codec flags on compress and eval, a decompress summary, what bench covers, figures with units."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

VECTRO = shutil.which("vectro")
pytestmark = pytest.mark.skipif(VECTRO is None, reason="the vectro command is not on PATH")
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
Q = SAMPLE / "queries.npy"


def run(*args):
    return subprocess.run([VECTRO, *(a if isinstance(a, bytes) else os.fsencode(str(a)) for a in args)],
                          capture_output=True)


def text(r):
    return r.stdout.decode() + r.stderr.decode()


def test_output_that_is_the_input_is_refused(tmp_path):
    src = tmp_path / "x.npy"
    shutil.copy(Q, src)
    keep = src.read_bytes()
    os.symlink("x.npy", tmp_path / "l.npy")
    os.link(src, tmp_path / "h.npy")
    for out in (src, tmp_path / "l.npy", tmp_path / "h.npy"):
        r = run("compress", src, out)
        assert r.returncode == 2 and "is the input file" in text(r), text(r)
    assert src.read_bytes() == keep
    assert run("compress", "--quiet", src, tmp_path / "x.vqz").returncode == 0
    r = run("decompress", tmp_path / "x.vqz", tmp_path / "x.vqz")
    assert r.returncode == 2 and "is the input file" in text(r)
    assert run("verify", tmp_path / "x.vqz").returncode == 0


@pytest.mark.parametrize("meta,why", [("{'model': 1}", "expected a string key"), ('{"a": 1', "expected ','"),
                                      ('{"a": 1} x', "text after the value"), ("[" * 600 + "]" * 600, "nested"),
                                      (b'"caf\xe9"', "not UTF-8"), ("", "unexpected end")])
def test_metadata_must_be_json(tmp_path, meta, why):
    r = run("compress", "--metadata", meta, Q, tmp_path / "m.vqz")
    assert r.returncode == 2 and "--metadata is not JSON" in text(r) and why in text(r), text(r)
    assert not (tmp_path / "m.vqz").exists()


def test_metadata_given_twice_is_refused_and_json_is_kept(tmp_path):
    r = run("compress", "--metadata", '{"a": 1}', "--metadata", '{"b": 2}', Q, tmp_path / "m.vqz")
    assert r.returncode == 2 and "given twice" in text(r)
    meta = '{"model": "minilm", "x": [1, -2.5e3, true, null, "\\u00e9\u00e9"], "o": {}}'
    assert run("compress", "--quiet", "--metadata", meta, Q, tmp_path / "m.vqz").returncode == 0
    import vectro

    assert vectro.VqzReader(tmp_path / "m.vqz").metadata["x"][4] == "éé"


@pytest.mark.parametrize("cmd", ["compress", "eval"])
@pytest.mark.parametrize("codec", ["pq", "pq-100x4", "nope", "int4-g0x"])
def test_bad_codec_parameters_are_usage_errors(tmp_path, cmd, codec):
    args = [Q, tmp_path / "o.vqz"] if cmd == "compress" else [Q]
    r = run(cmd, "--codec", codec, *args)
    assert r.returncode == 2, text(r)


def test_usage_errors_exit_2(tmp_path):
    assert run("compress", "--quiet", Q, tmp_path / "q.vqz").returncode == 0
    for args in (["eval", "--original", Q, "--queries", Q, tmp_path / "q.vqz"],  # would drop the queries
                 ["eval", "--original", Q, "-k", "5", tmp_path / "q.vqz"],
                 ["eval", "--original", Q, Q],
                 ["eval", "--codec", "int8", "--profile", "fast", Q],
                 ["compress", "--group", "32", "--codec", "int8", Q, tmp_path / "o.vqz"],
                 ["eval", "--rounding", "truncate", "--codec", "int8", Q],
                 ["eval", "--codec", "int4-g32", "--group", "16", Q]):
        r = run(*args)
        assert r.returncode == 2, (args, text(r))
    other = tmp_path / "o.npy"
    np.save(other, np.load(Q)[:10])
    r = run("eval", "--original", other, tmp_path / "q.vqz")
    assert r.returncode == 2 and "holds 10 x 384" in text(r)


def _info_codec(path):
    out = run("info", path).stdout.decode()
    return re.search(r"^codec +(.*?)(?: \(.*)?$", out, re.M).group(1)


# A centred codec is named with its flag ("rabitq-4 --center"): given back, it makes the same codec.
# The profiles are Python's (vectro.PROFILES): centred rabitq-8 / 4 / 1 (issue 14).
@pytest.mark.parametrize("given,name", [("uint8", "uint8"), ("uint8-cal", "uint8"), ("balanced", "rabitq-4 --center"),
                                        ("int4-g32", "int4-g32"), ("int8-cal", "int8-cal"),
                                        ("quality", "rabitq-8 --center"), ("fast", "rabitq-1 --center"),
                                        ("rabitq", "rabitq-4"), ("pq-48x4", "pq-48x4"), ("uint4", "uint4"),
                                        ("uint6-cal", "uint6"), ("int8 --center", "int8 --center"),
                                        ("binary --center", "binary --center"),
                                        ("uint4-cal --center", "uint4 --center"),
                                        ("pq-48x4 --center", "pq-48x4 --center")])
def test_one_codec_name_everywhere_and_it_can_be_passed_back(tmp_path, given, name):
    a = tmp_path / "a.vqz"
    r = run("compress", "--codec", *given.split(), Q, a)
    assert r.returncode == 0 and f", {name}, " in r.stderr.decode(), text(r)
    assert _info_codec(a) == name
    ev = run("eval", "--codec", *given.split(), Q).stdout.decode()
    assert f"codec {name}\n" in ev, ev
    assert f"codec {name}\n" in run("eval", "--original", Q, a).stdout.decode()
    d = run("decompress", a, tmp_path / "a.npy")
    assert d.returncode == 0 and f"decoded from {name} codes" in d.stderr.decode()
    b = tmp_path / "b.vqz"  # the printed name, given back, makes the same file
    assert run("compress", "--quiet", "--codec", *name.split(), Q, b).returncode == 0
    assert a.read_bytes() == b.read_bytes()


def test_profiles_are_pythons_centred_rabitq_and_make_the_same_codes(tmp_path):
    import vectro

    x = np.load(Q)
    for profile, bits in (("quality", 8), ("balanced", 4), ("fast", 1)):
        out = tmp_path / f"{profile}.vqz"
        assert run("compress", "--quiet", "--profile", profile, Q, out).returncode == 0
        back = tmp_path / f"{profile}-flags.vqz"
        assert run("compress", "--quiet", "--codec", "rabitq", "--bits", str(bits), "--center", Q, back).returncode == 0
        assert out.read_bytes() == back.read_bytes()
        got = vectro.load(out)
        codec = vectro.Codec(profile).fit(x)
        assert codec.precision == f"rabitq-{bits}" and codec.center
        np.testing.assert_array_equal(got.codes, codec.encode(x).codes)
    r = run("eval", "--profile", "fast", "--bits", "2", Q)  # a profile names its bits
    assert r.returncode == 2 and "contradicts" in text(r)


@pytest.mark.parametrize("precision", ["binary", "int8", "int4", "uint8", "uint4", "uint6", "int8-cal"])
def test_center_works_for_every_centrable_codec_as_in_python(tmp_path, precision):
    import vectro

    x = np.load(Q) + np.linspace(-0.2, 0.2, 384, dtype=np.float32)  # a mean far from 0
    src = tmp_path / "x.npy"
    np.save(src, x)
    out = tmp_path / "c.vqz"
    r = run("compress", "--quiet", "--codec", precision, "--center", src, out)
    assert r.returncode == 0, text(r)
    got = vectro.load(out)
    codec = vectro.Codec(precision, center=True, calibrated=precision == "int8-cal").fit(x)
    assert got.codec.center and got.codec.to_bytes() == codec.to_bytes()
    np.testing.assert_array_equal(got.codes, codec.encode(x).codes)
    ev = run("eval", "--codec", precision, "--center", Q)
    assert ev.returncode == 0 and " --center\n" in ev.stdout.decode(), text(ev)
    for float_codec in ("f16", "bf16", "int16"):
        r = run("eval", "--codec", float_codec, "--center", Q)
        assert r.returncode == 2 and "--center applies to the binary" in text(r), text(r)


def test_compress_and_eval_take_the_same_codec_flags(tmp_path):
    assert run("compress", "--quiet", "--codec", "rabitq", "--bits", "4", "--center", Q,
               tmp_path / "g.vqz").returncode == 0
    assert run("compress", "--quiet", "--profile", "balanced", Q, tmp_path / "p.vqz").returncode == 0
    assert (tmp_path / "g.vqz").read_bytes() == (tmp_path / "p.vqz").read_bytes()
    a = run("eval", "--profile", "balanced", Q).stdout.decode()
    b = run("eval", "--codec", "rabitq", "--bits", "4", "--center", Q).stdout.decode()
    assert a == b and "codec rabitq-4 --center" in a
    g = run("eval", "--codec", "int4", "--group", "32", Q).stdout.decode()
    assert "codec int4-g32\n" in g
    t = run("compress", "--quiet", "--codec", "uint8", "--rounding", "truncate", Q, tmp_path / "t.vqz")
    assert t.returncode == 0
    assert "truncate" in run("info", tmp_path / "t.vqz").stdout.decode()
    c = run("eval", "--codec", "rabitq", "--bits", "2", "--seed", "3", Q)
    assert c.returncode == 0 and "codec rabitq-2" in c.stdout.decode()
    for cmd in ("compress", "eval"):
        h = run(cmd, "--help").stdout.decode()
        for flag in ("--codec", "--profile", "--group", "--m ", "--bits", "--seed", "--center", "--rounding"):
            assert flag in h, (cmd, flag)


def test_decompress_summary_and_quiet(tmp_path):
    assert run("compress", "--quiet", Q, tmp_path / "q.vqz").returncode == 0
    r = run("decompress", tmp_path / "q.vqz", tmp_path / "q.npy")
    assert r.returncode == 0 and "300 x 384 float32 decoded from int8 codes" in r.stderr.decode()
    r = run("decompress", "--quiet", tmp_path / "q.vqz", tmp_path / "q2.npy")
    assert r.returncode == 0 and r.stderr == b"" and r.stdout == b""


def test_bench_covers_rabitq_and_pq_and_says_so():
    r = run("bench", "--dim", "32", "--mb", "1")
    out = r.stdout.decode()
    assert r.returncode == 0
    for name in ("int8", "int4-g32", "binary", "uint8", "rabitq-4", "pq-4x4"):
        assert re.search(rf"^{re.escape(name)} ", out, re.M), (name, out)
    h = run("bench", "--help").stdout.decode()
    assert "rabitq-4" in h and "pq-(D/8)x4" in h and "every codec" not in h


def test_eval_figures_state_their_units(tmp_path):
    out = run("eval", "--codec", "binary", Q).stdout.decode()
    assert "rel. L2 error   n/a: binary keeps signs only" in out and "mean abs error" not in out
    assert re.search(r"recall@10 +[0-9.]+ \(30 queries held out of the input; exact inner-product search over x\^ "
                     r"against float32, not a search on the codes\)", out), out
    out = run("eval", "--codec", "int8", Q).stdout.decode()
    assert "(cosine(x, x^) per vector)" in out and "(|x - x^| / |x| per vector)" in out
    assert "(mean |x - x^| over a vector, in units of its max |x|)" in out
    assert run("compress", "--quiet", Q, tmp_path / "q.vqz").returncode == 0
    out = run("eval", "--original", Q, tmp_path / "q.vqz").stdout.decode()
    assert "max abs error" in out and "in the input's units" in out
