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
from pathlib import Path
from urllib.parse import unquote

from ..models import Item
from .service import MEDIA_TYPES, media_root, sanitize_html

# sanitised HTML quotes every attribute with double quotes (nh3 serialises it so)
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r'\s+src="([^"]*)"', re.IGNORECASE)
IMAGE_TYPES = {ext: kind for ext, kind in MEDIA_TYPES.items() if kind.startswith("image/")}


def bank_path(src: str) -> str | None:
    """The relative path inside the bank an ``src`` names, or None if it names anything else."""
    path = unquote(src.strip())
    if not path or ":" in path or path.startswith(("/", "\\")) or "\\" in path:
        return None
    normal = posixpath.normpath(path)
    if normal.startswith("..") or Path(normal).suffix.lower() not in IMAGE_TYPES:
        return None
    return normal


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


def image_file(item: Item, n: int) -> tuple[Path, str] | None:
    """The n-th image of the item's HTML on disk and its type; None if there is none."""
    texts = [sanitize_html(item.stem), *(sanitize_html(o) for o in item.options)]
    tags = [tag for text in texts for tag in _IMG.findall(text)]
    if not 0 <= n < len(tags) or (src := _SRC.search(tags[n])) is None:
        return None
    name = bank_path(src.group(1))
    if name is None:
        return None
    folder = (media_root() / f"bank-{item.bank_id}").resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        return None
    return path, IMAGE_TYPES[path.suffix.lower()]
