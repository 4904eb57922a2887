"""Debian's nginx with the shipped docs/deploy/nginx.conf, in a temporary prefix.

Only ports and paths change (``shipped_config``): the processes' ports, the TLS and
plain ports, the certificate, the static folder, and the log, pid and temp paths.
A throwaway self-signed certificate comes from ``openssl``. tests/test_nginx_layout.py
and ``python -m loadtests.scenarios nginx`` run it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "docs" / "deploy" / "nginx.conf"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )


def self_signed(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A throwaway certificate and key for ``name`` (and 127.0.0.1)."""
    cert, key = directory / "cat-server.pem", directory / "cat-server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name},IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(f"docs/deploy/nginx.conf no longer contains {old!r}")
    return text.replace(old, new)


def shipped_config(
    prefix: Path,
    *,
    upstream_ports: list[int],
    https_port: int,
    http_port: int,
    cert: Path,
    key: Path,
    static_dir: Path,
) -> str:
    """docs/deploy/nginx.conf with ports and paths for a run in ``prefix``."""
    text = SHIPPED.read_text()
    servers = re.findall(r"^ *server 127\.0\.0\.1:\d+ [^;]*;\n", text, flags=re.M)
    assert len(servers) >= 2, "the upstream block lists no processes"
    line = servers[0]
    text = _replace(
        text,
        "".join(servers),
        "".join(re.sub(r":\d+ ", f":{port} ", line) for port in upstream_ports),
    )
    if os.geteuid() != 0:  # only root can switch user; a normal user runs nginx as itself
        text = _replace(text, "user www-data;\n", "")
    for old, new in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("/etc/ssl/certs/cat-server.pem", str(cert)),
        ("/etc/ssl/private/cat-server.key", str(key)),
        ("/opt/cat-server/static", str(static_dir)),  # the alias and the error page's root
        ("/run/nginx.pid", str(prefix / "nginx.pid")),
        ("/var/log/nginx/", f"{prefix}/log/"),
        ("/var/lib/nginx/", f"{prefix}/lib/"),
    ):
        text = _replace(text, old, new)
    return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """``nginx -p PREFIX -c nginx.conf -g 'daemon off;'`` with the shipped config."""

    def __init__(self, prefix: Path, upstream_ports: list[int], static_dir: Path | None = None):
        self.prefix = Path(prefix)
        self.https_port, self.http_port = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.https_port}"
        (self.prefix / "log").mkdir(parents=True, exist_ok=True)
        for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "lib" / temp).mkdir(parents=True, exist_ok=True)
        cert, key = self_signed(self.prefix)
        self.cert = cert
        self.config = self.prefix / "nginx.conf"
        self.config.write_text(
            shipped_config(
                self.prefix,
                upstream_ports=upstream_ports,
                https_port=self.https_port,
                http_port=self.http_port,
                cert=cert,
                key=key,
                static_dir=static_dir or ROOT / "static",
            )
        )
        if os.geteuid() == 0:  # workers run as www-data (the shipped `user`): let them in
            for path in [self.prefix, *self.prefix.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o755)
            for temp in (self.prefix / "lib").iterdir():
                shutil.chown(temp, "www-data")
            for parent in self.prefix.parents:
                if parent.stat().st_mode & 0o005 != 0o005:
                    parent.chmod(parent.stat().st_mode | 0o005)
        self.process = None

    @property
    def access_log(self) -> Path:
        return self.prefix / "log" / "access.log"

    def start(self, timeout: float = 15.0) -> Nginx:
        binary = nginx_binary()
        check = subprocess.run(
            [binary, "-t", "-p", str(self.prefix), "-c", str(self.config)],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the shipped config:\n{check.stderr}")
        self.process = subprocess.Popen(
            [binary, "-p", str(self.prefix), "-c", str(self.config), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=open(self.prefix / "log" / "stderr.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "nginx exited: " + (self.prefix / "log" / "error.log").read_text()[-2000:]
                )
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not listen in time")

    def reload(self) -> None:
        """``systemctl reload nginx``: SIGHUP to the master (new workers, the old ones drain)."""
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def upstreams_by_address(self, path_part: str = "/socket.io/") -> dict[str, set[str]]:
        """Client address -> the processes (host:port) that answered its requests."""
        seen: dict[str, set[str]] = {}
        for line in self.access_log.read_text().splitlines():
            if path_part not in line:
                continue
            match = re.match(r"(\S+) .* upstream=(.+)$", line)
            if match:
                for upstream in re.split(r", | : ", match.group(2)):  # tried in turn
                    if upstream and upstream != "-":
                        seen.setdefault(match.group(1), set()).add(upstream)
        return seen

    def last_upstream_by_address(self, path_part: str = "/socket.io/") -> dict[str, str]:
        """Client address -> the process (host:port) that answered its last logged request."""
        last: dict[str, str] = {}
        for line in self.access_log.read_text().splitlines():
            match = re.match(r"(\S+) .* upstream=(.+)$", line) if path_part in line else None
            if match:
                tried = [u for u in re.split(r", | : ", match.group(2)) if u and u != "-"]
                if tried:
                    last[match.group(1)] = tried[-1]
        return last
