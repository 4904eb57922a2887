"""An id out of range is a 404, never a 500 (issue 16), on SQLite and PostgreSQL.

Every rule of ``app.url_map`` with an integer argument is asked with ids no
row can have: past PostgreSQL's INTEGER (2**31), past BIGINT (2**63), past
SQLite's 64 bits (10**20), and thousands of digits; anonymously, as a
candidate, as a proctor and as an admin, with every method. Negative ids never
match a rule. The largest id that does fit reaches the database and is simply
not found. Ids in query strings and admin forms get the same bound.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from cat_server.errors import MAX_ID
from tests.security.test_role_matrix import ROLES, SESSION_ENDERS, clients_of, seed

# as URL text: 5000 digits are more than Python's int() takes from a string
OUT_OF_RANGE = [str(MAX_ID + 1), str(2**63), str(10**20), "9" * 5000]


@pytest.fixture(autouse=True)
def answer_500(app):
    """A failing view answers 500 (as in production) instead of raising: count them all."""
    app.config["PROPAGATE_EXCEPTIONS"] = False


def int_rules(app):
    """(rule, method, integer arguments), the ones that end a session last."""
    found = []
    for rule in app.url_map.iter_rules():
        ints = [
            name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)
        ]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if ints:
                found.append((rule, method, ints))
    return sorted(found, key=lambda r: ((r[0].endpoint, r[1]) in SESSION_ENDERS, r[0].rule))


def url_with(app, rule, ids, name, value) -> str:
    """The rule's URL with real ids, one integer argument replaced by ``value``."""
    with app.test_request_context():
        real = app.url_for(rule.endpoint, **{a: ids[a] for a in rule.arguments})
        marker = 987654321
        url = app.url_for(
            rule.endpoint, **{a: (marker if a == name else ids[a]) for a in rule.arguments}
        )
    assert str(marker) in url and url != real
    return url.replace(str(marker), value)


def test_every_integer_route_answers_404_to_an_id_out_of_range(app):
    ids = seed(app)
    clients = clients_of(app, ids)
    rules = int_rules(app)
    assert len({r[0].endpoint for r in rules}) >= 20  # exam, proctor, board and admin rules
    wrong = []
    for rule, method, names in rules:
        for name in names:
            for value in [*OUT_OF_RANGE, "-1", str(-(2**63)), "0" * 20 + "1"]:
                url = url_with(app, rule, ids, name, value)
                for role in ROLES:
                    status = clients[role].open(url, method=method).status_code
                    if status != 404:
                        wrong.append(f"{role} {method} {url[:80]}: {status}")
    assert wrong == [], "\n".join(wrong)


def test_the_largest_id_that_fits_reaches_the_database_and_is_not_found(app):
    ids = seed(app)
    clients = clients_of(app, ids)
    wrong = []
    for rule, method, names in int_rules(app):
        for name in names:
            url = url_with(app, rule, ids, name, str(MAX_ID))
            for role in ROLES:
                status = clients[role].open(url, method=method).status_code
                if status >= 500:
                    wrong.append(f"{role} {method} {url}: {status}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("value", [MAX_ID + 1, 2**63, 10**20, -(2**63)])
def test_ids_in_queries_and_admin_forms_are_bounded_too(app, value):
    ids = seed(app)
    admin = clients_of(app, ids)["admin"]
    asks = [
        ("GET", f"/admin/scores/export.csv?sitting={value}", None),
        ("GET", f"/admin/scores/responses.csv?sitting={value}", None),
        ("POST", "/admin/exams", {"name": "U", "bank_id": value, "duration_min": 90}),
        ("POST", "/admin/exams", {"name": "U", "bank_id": ids["bank_id"], "duration_min": value}),
        (
            "POST",
            "/admin/exams",
            {
                "name": "U",
                "bank_id": ids["bank_id"],
                "duration_min": 90,
                "sections": f"TWK, Wawasan, 1, {value}, 30",
                "pass_total": value,
            },
        ),
        ("POST", "/admin/sittings", {"exam_id": value, "name": "S", "proctors": [value]}),
        ("POST", "/admin/calibration", {"bank_id": value, "model": "2pl"}),
        (
            "POST",
            f"/admin/sittings/{ids['sitting_id']}/proctors",
            {"proctors": [value], "reason": "ganti"},
        ),
    ]
    wrong = []
    for method, url, form in asks:
        response = admin.open(url, method=method, data=form)
        if response.status_code >= 500:
            wrong.append(f"{method} {url} {form}: {response.status_code}")
    assert wrong == [], "\n".join(wrong)
