"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temporary directory, on a free port
on 127.0.0.1, run as a non-root user (PostgreSQL refuses root: as root we drop to `postgres` or
`nobody` with runuser), stopped and removed afterwards. `why_not()` says why one cannot start."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile


def pg_bin() -> str | None:
    """The newest PostgreSQL bin directory with initdb and pg_ctl ($VECTRO_PG_BIN overrides)."""
    env = os.environ.get("VECTRO_PG_BIN")
    if env:
        return env
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]) if
                   p.split("/")[-2].isdigit() else 0)
    for d in reversed(cands):
        if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    w = shutil.which("pg_ctl")
    return os.path.dirname(os.path.realpath(w)) if w else None


def _os_user() -> str | None:
    """The user to run the server as: None when not root, else `postgres` or `nobody`."""
    if os.geteuid() != 0:
        return None
    import pwd

    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def has_pgvector(bindir: str) -> bool:
    out = subprocess.run([os.path.join(bindir, "pg_config"), "--sharedir"], capture_output=True, text=True)
    if out.returncode != 0:
        return False
    return os.path.exists(os.path.join(out.stdout.strip(), "extension", "vector.control"))


def why_not() -> str | None:
    """None when a server with pgvector can start here, else why not (for the skip message)."""
    d = pg_bin()
    if d is None:
        return "PostgreSQL is not installed (run scripts/setup_pgvector.sh)"
    if not os.path.exists(os.path.join(d, "pg_config")):
        return f"{d}/pg_config is missing (run scripts/setup_pgvector.sh)"
    if not has_pgvector(d):
        return f"the pgvector extension is not installed for {d} (run scripts/setup_pgvector.sh)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """Started by start(), stopped (and its directory removed) by stop(). dsn() gives a libpq URI."""

    def __init__(self) -> None:
        self.bindir = pg_bin()
        self.dir = tempfile.mkdtemp(prefix="vectro-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.os_user = _os_user()
        self.prefix = [shutil.which("runuser") or "runuser", "-u", self.os_user, "--"] if self.os_user else []
        self.user = "postgres"  # the superuser initdb makes (-U), whoever runs the server
        if self.os_user:
            shutil.chown(self.dir, self.os_user)

    def _cmd(self, args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(self.prefix + args, capture_output=True, text=True, timeout=120, cwd=self.dir)

    def start(self) -> PgServer:
        r = self._cmd([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", self.user, "-A", "trust",
                       "--no-sync", "-E", "UTF8", "--locale=C"])
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr or r.stdout}")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB "
                "-c max_connections=20")
        r = self._cmd([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "log"),
                       "-o", opts, "-w", "-t", "60", "start"])
        if r.returncode:
            log = ""
            try:
                with open(os.path.join(self.dir, "log")) as f:
                    log = f.read()[-2000:]
            except OSError:
                pass
            raise RuntimeError(f"pg_ctl start failed: {r.stderr or r.stdout}\n{log}")
        return self

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        try:
            self._cmd([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
