"""Configuration defaults; every key can be overridden by a ``CAT_`` environment variable."""

import os


class Defaults:
    # No default: whoever holds the key can sign a candidate's cookie, so a key
    # that ships in the code is everyone's. create_app refuses to serve without
    # CAT_SECRET_KEY (>= 32 bytes); `cat-server demo` keeps one per instance.
    SECRET_KEY = os.environ.get("CAT_SECRET_KEY")
    # The key of the response chain's HMACs (exam/chain.py): kept out of the database,
    # so whoever can write the database cannot forge answers that verify. None: the
    # file chain_key in the instance folder, made once. The same on every process.
    CHAIN_KEY = None
    # Attempts up to this id may carry the plain SHA-256 chain of before the key
    # (an upgraded centre's old attempts); later ones must be keyed. 0: none.
    CHAIN_UNKEYED_UNTIL = 0
    # Attempts up to this id may carry a chain starting at 64 zeros, from before chains
    # named their candidate (an upgraded centre's old attempts); later ones must start
    # at their genesis. 0: none (the unkeyed ones are unbound too).
    CHAIN_UNBOUND_UNTIL = 0
    # Attempts up to this id may lack the item parameters their adaptive sections were
    # scored with (from before they were kept, exam/scoring.py): verify takes those
    # sections' scores as stored; later ones must have them. 0: none.
    SCORES_UNKEPT_UNTIL = 0
    # Empty: a SQLite file in the instance folder (create_app fills it in).
    DATABASE_URL = ""
    REDIS_URL = ""
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Starts the coalescing proctor feed and the deadline reaper in the server
    # process; tests turn it off and drive both by hand.
    BACKGROUND_TASKS = True
    # Proctor screens get at most 1 / FEED_INTERVAL messages a second.
    FEED_INTERVAL = 0.25
    REAPER_INTERVAL = 1.0
    # A heartbeat row every few seconds; a longer gap at start-up is downtime,
    # credited back to every attempt that was running.
    HEARTBEAT_INTERVAL = 5.0
    # Signed result bundles (docs/results.md). CENTRE_ID names this centre in them
    # (e.g. "UPT-BKN-JAKARTA"). With NATIONAL_URL (https://...), ended sittings'
    # bundles are sent by themselves to <url>/api/v1/results every RESULTS_FORWARD_S,
    # a failed send tried again after RESULTS_RETRY_S, doubling up to RESULTS_RETRY_MAX_S.
    CENTRE_ID = ""
    NATIONAL_URL = ""
    # Fetching a sealed package's release code (docs/packages.md). At a centre:
    # ISSUER_URL (https://...) offers "fetch from the issuer" next to the typed code.
    ISSUER_URL = ""
    ISSUER_FETCH_TIMEOUT = 10.0
    # On the issuer's own instance: its private key (0600) and release calendar
    # (CSV package_id,slot,starts_at); a slot's code is given from RELEASE_BEFORE_S
    # before its start to RELEASE_AFTER_S after, to a request at most
    # REQUEST_MAX_AGE_S old (or ahead: the centre's clock) and never seen before.
    ISSUER_PRIVATE_KEY_FILE = ""
    ISSUER_SCHEDULE = ""
    ISSUER_RELEASE_BEFORE_S = 1800.0
    ISSUER_RELEASE_AFTER_S = 4 * 3600.0
    ISSUER_REQUEST_MAX_AGE_S = 300.0
    RESULTS_FORWARD_S = 5.0
    RESULTS_RETRY_S = 30.0
    RESULTS_RETRY_MAX_S = 900.0
    RESULTS_SEND_TIMEOUT = 30.0
    # the largest bundle the national endpoint reads (300 seats x 110 answers: ~15 MiB)
    RESULTS_MAX_BUNDLE = 64 * 1024 * 1024  # ~4 times the largest sitting's
    # Redis pub/sub channel joining the processes of one centre's server (also the
    # prefix of its live-socket keys and its feed channel). Pub/sub ignores the
    # Redis db number, so empty = "cat-server" on db 0 and "cat-server-db<N>" on
    # db N: two deployments sharing one Redis on different dbs do not mix. Name one
    # per deployment when they share a db (docs/deploy/README.md).
    SOCKETIO_CHANNEL = ""
    SOCKETIO_ASYNC_MODE = None  # auto: gevent under gunicorn, threading in tests
    # Engine.IO heartbeat: a workstation whose network silently died is noticed
    # (proctor grid: disconnected; its page: the offline banner) after about
    # interval + timeout plus one sweep of python-engineio's checker: 37 s in
    # the blackhole network-cut test here, 64 s with python-engineio's 25 + 20.
    SOCKETIO_PING_INTERVAL = 10
    SOCKETIO_PING_TIMEOUT = 15
    # Batched socket events (cat_server/txn.py): SQLite's group commit, PostgreSQL's
    # answer lane. "auto" = on under gevent; "off" turns it off; "on" forces it.
    GROUP_COMMIT = "auto"
    BABEL_DEFAULT_LOCALE = "id"
    # The centre's zone (IANA name): every time a person reads or types is in it,
    # named (WIB, WITA, WIT); stored times stay UTC. A name that is no zone stops
    # the start. Asia/Makassar = WITA, Asia/Jayapura = WIT.
    TIMEZONE = "Asia/Jakarta"
    # The centre's name as printed on score sheets (the head of the list and the signature
    # place): say which UPT, e.g. CAT_CENTRE_NAME="UPT BKN Medan".
    CENTRE_NAME = "UPT BKN"
    # Login limits (cat_server/lockout.py; Redis storage when REDIS_URL is set). A
    # whole centre may sit behind one NAT address, so the per-IP limit lets 600+
    # logins a minute through. Failures only: past the per-address-and-account
    # budget that address is refused for that account (never the candidate at
    # another seat); past the per-account one, across addresses, the account is
    # slowed: an address that failed for it within LOGIN_FAILED_ADDRESS_MEMORY_S
    # is refused, any other gets one try. docs/SECURITY.md has the arithmetic.
    LOGIN_LIMIT_PER_IP = "1200 per minute"
    LOGIN_LIMIT_PER_ADDRESS_AND_ACCOUNT = "5 per 5 minutes"
    LOGIN_LIMIT_PER_ACCOUNT = "10 per hour"
    LOGIN_FAILED_ADDRESS_MEMORY_S = 24 * 3600
    # Failures from one address across all accounts: past it the address is refused
    # for the accounts it has failed for (within LOGIN_FAILED_ADDRESS_MEMORY_S), and
    # only those, so one guesser cannot spray a room and a NAT'd centre still logs in.
    LOGIN_FAILURES_PER_ADDRESS = "30 per hour"
    # Admission guard (admission.py): login POSTs in flight per server process;
    # beyond this a login gets 503 with Retry-After (this many seconds plus
    # jitter) at once instead of queueing until the browser times out. 0 = off.
    MAX_LOGINS_IN_FLIGHT = 16
    LOGIN_RETRY_AFTER = 3
    # Threads that verify PINs and passwords (security.py), at low priority: a login
    # flood keeps at most this many cores hashing, the rest answer the seats.
    HASH_THREADS = 1
    # A login's body is read whole before it takes a slot: within this many seconds
    # (408 and the connection closed after), at most LOGIN_MAX_BODY bytes (413).
    LOGIN_BODY_TIMEOUT = 5.0
    LOGIN_MAX_BODY = 64 * 1024
    # Staff sessions (admin and proctor pages) end after this many seconds without a
    # request or an open proctor console, by the server's own record (staff_sessions.py).
    ADMIN_IDLE_TIMEOUT = 30 * 60
    # Candidate sessions end after this many seconds with no exam page open (no /exam
    # socket) and no login (exam/sessions.py); an open exam page never times out. 0 = off.
    CANDIDATE_IDLE_TIMEOUT = 30 * 60
    PERMANENT_SESSION_LIFETIME = 12 * 3600
    # Set CAT_SESSION_COOKIE_SECURE=true behind TLS (nginx in front).
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # How many reverse proxies in front set X-Forwarded-For / -Proto: 0 = none
    # (the headers are ignored and cannot be spoofed); 1 behind the centre's nginx.
    TRUSTED_PROXIES = 0
    # Staff passwords (new accounts and resets): at least this many characters.
    PASSWORD_MIN_LENGTH = 10
    # Largest admin upload (bank zip with media, candidates CSV).
    ADMIN_MAX_UPLOAD = 64 * 1024 * 1024
    # Any other request body (login forms, proctor forms): 413 beyond this. The
    # upload views of the admin pages take ADMIN_MAX_UPLOAD, for admins (bodies.py).
    MAX_CONTENT_LENGTH = 1024 * 1024
    # Refusals before Flask (a login's 503 for load, a socket's foreign Origin) are
    # counted per address and written as one audit row per window (refusals.py).
    REFUSAL_WINDOW_S = 60
    # Websockets (socket_limits.py): new engine.io sessions beyond this many open
    # from one address get 429 (0 = no limit; raise it if the workstations reach
    # the server through one NAT address), beyond MAX_SOCKETS in the process 503;
    # a session that joins no namespace within ANON_SOCKET_GRACE seconds is ended.
    MAX_SOCKETS_PER_ADDRESS = 32
    MAX_SOCKETS = 9000
    ANON_SOCKET_GRACE = 15.0
    # /metrics (metrics.py) answers only these addresses or networks (comma-separated;
    # behind nginx the client's, with TRUSTED_PROXIES=1) or a request carrying
    # "Authorization: Bearer <METRICS_TOKEN>" (empty: no token is accepted); 403 otherwise.
    METRICS_ALLOW = "127.0.0.1,::1"
    METRICS_TOKEN = ""
    # The log (logs.py): "plain" lines (key=value after time, zone and level) or "json",
    # one object a line.
    LOG_FORMAT = "plain"
