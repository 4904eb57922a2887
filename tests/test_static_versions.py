"""Static URLs carry their content's hash: an upgrade's exam.js reaches workstations at once."""

import hashlib
import re

from cat_server import static_versions
from cat_server.factory import STATIC_DIR


def test_pages_link_static_files_by_content_hash(client):
    page = client.get("/login").get_data(as_text=True)
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert links, "the login page links no static file"
    for link in links:
        path, _, query = link.partition("?")
        digest = hashlib.sha256((STATIC_DIR / path.removeprefix("/static/")).read_bytes())
        assert query == f"v={digest.hexdigest()[:12]}", link
        assert client.get(link).status_code == 200


def test_a_changed_file_gets_a_new_url(tmp_path):
    (tmp_path / "js").mkdir()
    script = tmp_path / "js" / "exam.js"
    script.write_text("'use strict'; // 1.0\n")
    old = static_versions.static_version(str(tmp_path), "js/exam.js")
    static_versions._versions.clear()  # the upgrade restarts the process
    script.write_text("'use strict'; // 1.1\n")
    new = static_versions.static_version(str(tmp_path), "js/exam.js")
    assert old and new and old != new
    assert static_versions.static_version(str(tmp_path), "js/none.js") is None
