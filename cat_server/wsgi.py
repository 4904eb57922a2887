"""Entry point for gunicorn: ``gunicorn -k gevent -w 1 cat_server.wsgi:app``."""

import gc
import os

from .factory import create_app
from .headers import drop_gunicorn_server_header, secure_gunicorn_error_pages
from .tasks import start_background_tasks

drop_gunicorn_server_header()
secure_gunicorn_error_pages()
app = create_app()
if app.config["BACKGROUND_TASKS"]:
    start_background_tasks(app)

# Everything built so far (modules, the app, SQLAlchemy's mappers and compiled
# caches) lives as long as the process: move it out of the collector's view so
# the full collections that thousands of sockets trigger do not walk it again
# and again (docs/PERFORMANCE.md, issue 8).
gc.collect()
gc.freeze()
# Fewer, later collections: the default (700, 10, 10) ran a full one every few
# seconds under load, 40-60 ms each with the event loop stopped, though they
# found nearly nothing once socket events stopped leaving cycles
# (realtime.match_socket_path). SQLite peak p99 61 -> 43 ms (docs/PERFORMANCE.md).
gc.set_threshold(10_000, 20, 20)
if os.environ.get("CAT_GC_LOG"):
    from . import gclog

    gclog.install()
