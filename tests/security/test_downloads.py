"""Download file names come from server values only (issue 16).

No request text reaches Content-Disposition (or any other header): the scores
export names its file after the sitting id or the dates the server parsed, the
bank export after the bank's name reduced to ASCII letters and digits. A header
that a quote, a CR/LF or a non-Latin-1 character could break is a header a
request could write into.
"""

from __future__ import annotations

import re

import pytest

from cat_server.extensions import db
from cat_server.models import ItemBank
from tests.conftest import login_staff, make_sitting, make_user

ADMIN = ("admin", "admin-pass-1")
SAFE_NAME = re.compile(r'attachment; filename="?[A-Za-z0-9._-]+"?')


@pytest.fixture
def admin(app):
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
        make_user()
    client = app.test_client()
    assert login_staff(client, *ADMIN).status_code == 302
    return client


def disposition(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    value = response.headers["Content-Disposition"]
    value.encode("latin-1")  # what gunicorn writes a header in: a wider one breaks the answer
    return value


@pytest.mark.parametrize(
    "query, name",
    [
        ("from=2026-12-01&to=2026-12-05", "scores-2026-12-01_2026-12-05"),
        # the text as typed never reaches the header: what the server parsed does
        ("from=%202026-12-01T08:30%20&to=2026-12-05", "scores-2026-12-01T0830_2026-12-05"),
        ('from=2026-12-01&to=x"; filename=evil.exe', "scores-from-2026-12-01"),
        ("from=2026-12-01&to=%0D%0AX-Evil:%201", "scores-from-2026-12-01"),
        ("to=2026-12-05&from=%E2%9C%93", "scores-until-2026-12-05"),
    ],
)
def test_the_scores_file_is_named_from_parsed_dates(app, admin, query, name):
    for fmt in ("csv", "xlsx"):
        value = disposition(admin.get(f"/admin/scores/export.{fmt}?{query}"))
        assert value == f'attachment; filename="{name}.{fmt}"' or value == (
            f"attachment; filename={name}.{fmt}"
        )
        assert "X-Evil" not in admin.get(f"/admin/scores/export.{fmt}?{query}").headers
    value = disposition(admin.get(f"/admin/scores/responses.csv?{query}"))
    assert name.replace("scores-", "responses-") + ".csv" in value


def test_a_sitting_export_is_named_by_the_sitting_id_only(app, admin):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
    value = disposition(
        admin.get(f"/admin/scores/export.csv?sitting={sitting_id}&from=x%22y&to=%0D%0A")
    )
    assert value in (
        f'attachment; filename="scores-sitting-{sitting_id}.csv"',
        f"attachment; filename=scores-sitting-{sitting_id}.csv",
    )


@pytest.mark.parametrize(
    "bank_name, slug",
    [
        ("Bank SKD 2026", "bank-skd-2026"),
        ('Bank "kutip"; filename=x.exe', "bank-kutip-filename-x-exe"),
        ("Bank Soal Ñandú ✓ 日本\r\nX-Evil: 1", "bank-soal-and-x-evil-1"),
        ("✓✓✓", "bank"),
    ],
)
def test_the_bank_file_is_named_from_an_ascii_slug_of_its_name(app, admin, bank_name, slug):
    with app.app_context():
        db.session.add(ItemBank(name=bank_name, version=3))
        db.session.commit()
        bank_id = db.session.query(ItemBank).one().id
    for fmt in ("csv", "json", "xlsx"):
        value = disposition(admin.get(f"/admin/banks/{bank_id}/export.{fmt}"))
        assert SAFE_NAME.fullmatch(value), value
        assert f"{slug}-v3.{fmt}" in value


def test_every_download_header_is_plain(app, admin):
    """The proctor's incident CSV too: the sitting id, nothing else."""
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
    value = disposition(admin.get(f"/proctor/sittings/{sitting_id}/report.csv"))
    assert SAFE_NAME.fullmatch(value) and f"incidents-sitting-{sitting_id}.csv" in value
