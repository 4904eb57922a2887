"""Images inside item HTML: each served by its place in the item, from the bank's own media.

An item's stem or option may hold ``<img src="media/tiu102.png">`` (docs/formats.md),
a path inside the bank's .zip. The page never sees that path: the n-th image of
the item (stem first, then options A..E) becomes ``/exam/media/<item id>/<n>``,
which the media route serves to whoever may see the item. Any other ``src``
(another site, an absolute path, ``..``) is dropped, so an item can only show
its own bank's files, and the page's CSP (``img-src 'self'``) never has to refuse one.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

# sanitised HTML quotes every attribute with double quotes (nh3 serialises it so)
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r'\s+src="([^"]*)"', re.IGNORECASE)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def bank_path(src: str) -> str | None:
    """The relative path inside the bank an ``src`` names, or None if it names anything else."""
    path = unquote(src.strip())
    if not path or ":" in path or path.startswith(("/", "\\")) or "\\" in path:
        return None
    normal = posixpath.normpath(path)
    if normal.startswith("..") or not normal.lower().endswith(IMAGE_SUFFIXES):
        return None
    return normal


def image_sources(html: str) -> list[str | None]:
    """The ``src`` of each image in sanitised item HTML, in order (None: an image without one)."""
    return [(m.group(1) if (m := _SRC.search(tag)) else None) for tag in _IMG.findall(html)]


def link_images(item_id: int, texts: list[str]) -> list[str]:
    """The sanitised ``texts`` (stem, then options) with each image's src made its served URL."""
    counter = iter(range(10_000))

    def relink(match):
        tag = match.group(0)
        src = _SRC.search(tag)
        n = next(counter)
        if src is None:
            return tag
        if bank_path(src.group(1)) is None:  # not the bank's own file: no source at all
            return tag[: src.start()] + tag[src.end() :]
        return f"{tag[: src.start(1)]}/exam/media/{item_id}/{n}{tag[src.end(1) :]}"

    return [_IMG.sub(relink, text) for text in texts]
