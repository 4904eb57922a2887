"""cat_server: computer-based adaptive testing for BKN UPT test centres.

The app factory lives in factory.py and is loaded on first use, so that
``import cat_server.irt`` (the engine, for calibration scripts and notebooks)
loads numpy and scipy only, never Flask and the web stack (docs/engine.md).
"""

_FACTORY_NAMES = frozenset(
    {
        "create_app",
        "check_secret_key",
        "InsecureSecretKey",
        "PUBLIC_SECRET_KEYS",
        "MIN_SECRET_KEY_BYTES",
        "LANGUAGES",
        "STATIC_DIR",
        "MIGRATIONS_DIR",
    }
)


def __getattr__(name):
    if name in _FACTORY_NAMES:
        from . import factory

        return getattr(factory, name)
    raise AttributeError(f"module 'cat_server' has no attribute {name!r}")
