"""The shipped nginx.conf, read as text: what tests/test_nginx_layout.py cannot see (issue 23)."""

import re
import subprocess
from pathlib import Path

from cat_server.config import Defaults

NGINX_CONF = Path(__file__).resolve().parent.parent / "docs" / "deploy" / "nginx.conf"


def size_in_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def test_nginx_lets_the_largest_admin_upload_reach_the_app():
    """The app refuses an upload over ADMIN_MAX_UPLOAD with its own message; nginx must not
    refuse it first with a bare 413."""
    (value,) = re.findall(r"client_max_body_size\s+(\S+);", NGINX_CONF.read_text())
    assert size_in_bytes(value) > Defaults.ADMIN_MAX_UPLOAD


def test_nginx_conf_is_a_whole_config_without_debians_default_site():
    text = NGINX_CONF.read_text()
    assert re.search(r"^events \{", text, re.M) and re.search(r"^http \{", text, re.M)
    assert "sites-enabled/*" not in text.replace("sites-enabled/default", "")
    assert "ip_hash" not in re.sub(r"#.*", "", text)  # a whole /24 lab on one process
    assert re.search(r"^\s*hash \$remote_addr consistent;", text, re.M)


def test_every_proxied_location_passes_the_host_with_its_port():
    """Origin and Referer carry the port; $host would drop it (400 on any port but 443)."""
    text = re.sub(r"#.*", "", NGINX_CONF.read_text())
    locations = re.findall(r"location [^{]+\{([^}]*)\}", text)
    proxied = [body for body in locations if "proxy_pass" in body]
    assert len(proxied) >= 3
    for body in proxied:
        # nginx drops the outer proxy_set_header of a location that sets any of its own
        assert "proxy_set_header Host $http_host;" in body, body
        assert "X-Forwarded-Proto $scheme" in body, body


ROOT = NGINX_CONF.parent.parent.parent
DEPLOY_README = NGINX_CONF.parent / "README.md"


def test_the_deploy_guide_links_what_an_administrator_sets_up_in_its_steps():
    """Monitoring and the backup timer are reached from the install steps, not left beside them."""
    text = DEPLOY_README.read_text()
    linked = set(re.findall(r"\]\(([^)#\s]+)\)", text))
    shipped = {p.name for p in NGINX_CONF.parent.iterdir()} - {"README.md"}
    assert shipped <= linked, shipped - linked  # every shipped file, in the table at least
    steps = text.split("## Part A", 1)[1].split("## Part B", 1)[0]
    backups = steps.split("### 10. Backups", 1)[1].split("\n### ", 1)[0]
    assert "](cat-server-backup.timer)" in backups
    assert "systemctl enable --now cat-server-backup.timer" in backups
    assert "cron" not in backups  # one schedule: the shipped timer, not a second one beside it
    assert "](monitoring.md)" in steps


def test_nothing_in_the_repository_sets_or_recommends_ip_hash():
    """ip_hash hashes a /24 into one bucket: mentions only say why not (../shared/DESIGN.md still
    does, outside the repository)."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        path = ROOT / name
        if not path.is_file() or path.suffix not in {".md", ".conf", ".py", ".yml", ".toml", ""}:
            continue
        text = path.read_text(errors="replace")
        assert not re.search(r"^\s*ip_hash\s*;", text, re.M), name
        for paragraph in re.split(r"\n\s*\n", text):
            if "ip_hash" in paragraph and name != "tests/test_deploy_config.py":
                assert re.search(r"\b(would|not|did)\b", paragraph), (name, paragraph)
