"""Security headers on every HTTP answer, and no ``Server: gunicorn``.

A WSGI wrapper, outermost, so that every answer gets them: Flask's pages,
errors, downloads and static files, and the answers Flask never sees (engine.io's
polling, the admission guard's 503). A header the answer set itself wins (the
item media keep their own ``Cache-Control``).

- ``Content-Security-Policy``: scripts, styles, images, media and connections
  from this origin only; no inline script or style (templates pass server
  values in ``<script type="application/json">`` blocks, which are data), no
  plugins, no ``<base>``, forms post here, and no page may be framed.
  ``connect-src 'self'`` covers Socket.IO's polling and its ``ws:``/``wss:``
  to the same host (CSP Level 3).
- ``X-Frame-Options: DENY`` for browsers before ``frame-ancestors``.
- ``X-Content-Type-Options: nosniff``.
- ``Referrer-Policy: same-origin``: no URL (with its sitting id) leaves the
  centre, and Flask-WTF's referrer check behind TLS still gets one.
- ``Cache-Control: no-store`` unless the answer chose its own: a PIN slip, an
  exam page or a score file is not kept on a shared workstation's disk, nor
  shown again by its Back button.

Nothing here redirects to HTTPS or touches cookies: a centre may serve plain
HTTP on its LAN (TLS and HSTS, where used, belong to nginx in front).
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "media-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ("Cache-Control", "no-store"),
)


class SecurityHeaders:
    """Wraps ``app.wsgi_app``: adds each of ``HEADERS`` the answer does not set itself."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            if not status.startswith("101"):  # a websocket handshake: nothing to add
                present = {name.lower() for name, _ in headers}
                headers = [*headers, *((n, v) for n, v in HEADERS if n.lower() not in present)]
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def init_app(app) -> None:
    """Call last in create_app: the wrapper must be the outermost."""
    app.wsgi_app = SecurityHeaders(app.wsgi_app)


def drop_gunicorn_server_header() -> None:
    """gunicorn writes ``Server: gunicorn`` on every answer, with no setting to drop it.

    Its maintainers' answer (benoitc/gunicorn#825, #1617) is that it stays, and
    setting ``gunicorn.SERVER`` in a config file only changes the word (and only
    where ``gunicorn.http.wsgi`` has not copied it yet). So the status-line
    block it writes loses that one line. Called by ``cat_server.wsgi``, which
    gunicorn imports in each worker; tests/security/test_headers.py checks it
    against a real gunicorn, so a gunicorn that changes this fails there.
    """
    try:
        from gunicorn.http import wsgi as gunicorn_wsgi
    except ImportError:  # pragma: no cover  (another WSGI server)
        return
    response = gunicorn_wsgi.Response
    if getattr(response.default_headers, "drops_server", False):
        return
    default_headers = response.default_headers

    def without_server(self):
        return [line for line in default_headers(self) if not line.lower().startswith("server:")]

    without_server.drops_server = True
    response.default_headers = without_server


ERROR_PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>{status} {reason}</title></head>
<body><h1>{status} {reason}</h1>
<p lang="id">Permintaan tidak dapat dibaca oleh server.</p>
<p lang="en">The server could not read the request.</p></body></html>
"""


def secure_gunicorn_error_pages() -> None:
    """gunicorn answers a request it cannot parse itself, before any WSGI app runs.

    A malformed request line, a header too long or too many (400, 431), a bad
    chunked body: ``gunicorn.util.write_error`` writes a bare page with none of
    ``HEADERS`` and the offending request text echoed. It is replaced by one
    that sends ``HEADERS`` and says only the status, in both languages. Called by
    ``cat_server.wsgi``; tests/security/test_headers.py sends such requests to a
    real gunicorn. Behind nginx these requests mostly stop at nginx, whose own
    error pages need its ``add_header ... always`` (docs/deploy/README.md).
    """
    try:
        from gunicorn import util as gunicorn_util
    except ImportError:  # pragma: no cover  (another WSGI server)
        return
    if getattr(gunicorn_util.write_error, "secured", False):
        return

    def write_error(sock, status_int, reason, mesg):
        del mesg  # the request's own text: not echoed
        body = ERROR_PAGE.format(status=int(status_int), reason=reason).encode("utf-8")
        lines = [
            f"HTTP/1.1 {int(status_int)} {reason}",
            "Connection: close",
            "Content-Type: text/html; charset=utf-8",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in HEADERS),
        ]
        gunicorn_util.write_nonblock(sock, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    write_error.secured = True
    gunicorn_util.write_error = write_error
