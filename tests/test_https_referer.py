"""Over HTTPS a login POST needs a same-origin Referer (docs/protocol.md; issue 23, defect 8)."""

import re

from cat_server.extensions import db
from tests.conftest import PIN, make_sitting

BASE = "https://cat.upt.example:8443"


def login(app, referer=None):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = f"{BASE}/exam/{app.sitting_id}/"
    html = client.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    headers = {"Referer": referer} if referer else {}
    return client.post(
        page,
        data={"registration_no": "20260001", "pin": PIN, "csrf_token": token},
        headers=headers,
    )


def test_an_https_login_needs_a_same_origin_referer(app):
    with app.app_context():
        app.sitting_id = make_sitting()
        db.session.commit()
    missing = login(app)
    assert missing.status_code == 400
    assert "referrer" in missing.get_data(as_text=True).lower()
    elsewhere = login(app, "https://cat.upt.example/exam/")  # the port dropped
    assert elsewhere.status_code == 400
    assert login(app, f"{BASE}/exam/{app.sitting_id}/").status_code == 302
