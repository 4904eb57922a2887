"""Entry point for gunicorn: ``gunicorn -k gevent -w 1 cat_server.wsgi:app``."""

from . import create_app
from .realtime import start_background_tasks

app = create_app()
if app.config["BACKGROUND_TASKS"]:
    start_background_tasks(app)
