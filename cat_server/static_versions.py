"""Versioned static URLs: ``/static/js/exam.js?v=<content hash>``, so an upgrade reaches every
workstation at once however long the old file was cached (nginx caches versioned URLs for a year)."""

from __future__ import annotations

import hashlib
from pathlib import Path

# (folder, filename) -> version; the files change only with an upgrade, which restarts the process
_versions: dict[tuple[str, str], str | None] = {}


def static_version(folder: str, filename: str) -> str | None:
    """The first 12 hex digits of the file's SHA-256; None when there is no such file."""
    key = (folder, filename)
    if key not in _versions:
        path = Path(folder, filename)
        try:
            _versions[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        except OSError:
            _versions[key] = None
    return _versions[key]


def init_app(app) -> None:
    """Every ``url_for('static', filename=...)`` carries ``v=`` (unless one is given)."""

    @app.url_defaults
    def _version_static(endpoint, values):
        if endpoint == "static" and "v" not in values and "filename" in values:
            version = static_version(app.static_folder, values["filename"])
            if version:
                values["v"] = version
