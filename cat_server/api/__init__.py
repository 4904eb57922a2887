"""The JSON API for the centre's other systems (docs/api.md): admin role, bearer tokens.

Thin handlers over the same service functions the admin pages call
(``cat_server.admin``); a token is never a cookie, so these routes are outside
the CSRF check and refuse any session cookie as credentials.
"""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import routes  # noqa: E402,F401  (register on import)
