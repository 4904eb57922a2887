"""The shipped nginx.conf, read as text: what tests/test_nginx_layout.py cannot see (issue 23)."""

import re
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
