"""Entry point for gunicorn: ``gunicorn -k gevent -w 1 cat_server.wsgi:app``."""

import gc

from . import create_app
from .realtime import start_background_tasks

app = create_app()
if app.config["BACKGROUND_TASKS"]:
    start_background_tasks(app)

# Everything built so far (modules, the app, SQLAlchemy's mappers and compiled
# caches) lives as long as the process: move it out of the collector's view so
# the full collections that thousands of sockets trigger do not walk it again
# and again (docs/PERFORMANCE.md, issue 8).
gc.collect()
gc.freeze()
