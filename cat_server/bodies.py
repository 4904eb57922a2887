"""How large a request body may be: small everywhere, large for an admin's uploads.

Every request is read under ``MAX_CONTENT_LENGTH`` (1 MiB: a login or proctor
form is a few hundred bytes). An administrator's upload (a bank zip with its
media, a candidates CSV, a response matrix) may be ``ADMIN_MAX_UPLOAD`` (64 MiB).

The limit has to be known when the body is first parsed, and that is before any
view or blueprint hook runs: Flask-WTF's CSRF check reads ``request.form`` in
the app's own ``before_request``. A blueprint hook that raised the limit came
too late, so every upload over 1 MiB was refused with 413 (issue 16). So the
request itself decides, from the view it was routed to (marked with
``@large_upload``) and the logged-in user (an admin): an anonymous or proctor
POST to an upload page is read under the small limit.
"""

from __future__ import annotations

from flask import Request, current_app
from flask_login import current_user


def large_upload(view):
    """Mark an admin view whose POST may carry up to ``ADMIN_MAX_UPLOAD`` bytes."""
    view.large_upload = True
    return view


class CatRequest(Request):
    """Flask's request, with the body limit chosen by endpoint and role."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None:  # set by hand for this request
            return self._max_content_length
        if not current_app:
            return super().max_content_length
        config = current_app.config
        if self._may_upload_large():
            return config.get("ADMIN_MAX_UPLOAD", 64 * 1024 * 1024)
        return config["MAX_CONTENT_LENGTH"]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def _may_upload_large(self) -> bool:
        rule = self.url_rule
        if rule is None:
            return False
        view = current_app.view_functions.get(rule.endpoint)
        if not getattr(view, "large_upload", False):
            return False
        # the user from the session cookie and the server's session table: no body read
        return bool(current_user.is_authenticated and getattr(current_user, "is_admin", False))


def init_app(app) -> None:
    app.request_class = CatRequest
