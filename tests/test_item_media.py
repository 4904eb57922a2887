"""Item media on the candidate page: only an item presented to the attempt, staff any."""

import pytest

from cat_server.exam import attempts
from cat_server.extensions import db
from cat_server.models import Item, ItemBank, Sitting
from tests.conftest import last_event, login_staff, make_user
from tests.test_sections import build_sitting, connect, emit

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # enough of a PNG for a content check
MEDIA_ITEMS = [
    dict(code="TIU1", section="TIU", model="2pl", a=1.0, b=0.0, key="A", media="media/grafik1.png"),
    dict(code="TIU2", section="TIU", model="2pl", a=1.0, b=0.5, key="B", media="media/grafik2.png"),
    dict(code="TIU3", section="TIU", model="2pl", a=1.0, b=0.9, key="C", media="audio/soal3.mp3"),
]
LINEAR = [dict(code="TIU", name="Tes Intelegensia Umum", n_items=3)]  # one item at a time


@pytest.fixture
def media_sitting(app, tmp_path):
    app.config["MEDIA_DIR"] = str(tmp_path / "media")
    with app.app_context():
        sitting_id = build_sitting(LINEAR, MEDIA_ITEMS)
        bank_id = db.session.query(ItemBank).one().id
        ids = {i.code: i.id for i in db.session.query(Item)}
    folder = tmp_path / "media" / f"bank-{bank_id}"
    (folder / "media").mkdir(parents=True)
    (folder / "audio").mkdir()
    (folder / "media" / "grafik1.png").write_bytes(PNG)
    (folder / "media" / "grafik2.png").write_bytes(PNG + b"2")
    (folder / "audio" / "soal3.mp3").write_bytes(b"ID3" + b"\x00" * 16)
    (tmp_path / "rahasia.png").write_bytes(b"not for candidates")
    return sitting_id, ids


def test_a_candidate_gets_the_media_of_presented_items_only(app, media_sitting):
    sitting_id, ids = media_sitting
    client, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    assert state["item"]["id"] == ids["TIU1"] and state["item"]["media"] == "image"
    assert "grafik" not in str(state)  # the file name never reaches the page

    shown = client.get(f"/exam/media/{ids['TIU1']}")
    assert shown.status_code == 200 and shown.data == PNG
    assert shown.mimetype == "image/png"
    assert shown.headers["Cache-Control"] == "private, no-store"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/exam/media/{ids['TIU2']}").status_code == 404  # not presented yet
    assert client.get(f"/exam/media/{ids['TIU3']}").status_code == 404
    assert client.get("/exam/media/999999").status_code == 404

    ack = emit(sock, "answer", attempt=state["attempt"], seq=1, item=ids["TIU1"], choice="A")
    assert ack["ok"] and ack["state"]["item"]["id"] == ids["TIU2"]
    assert client.get(f"/exam/media/{ids['TIU2']}").data == PNG + b"2"  # now it is


def test_strangers_get_nothing_and_staff_get_any(app, media_sitting):
    sitting_id, ids = media_sitting
    anonymous = app.test_client()
    assert anonymous.get(f"/exam/media/{ids['TIU1']}").status_code == 403
    with app.app_context():
        make_user("admin", role="admin")
    staff = app.test_client()
    assert login_staff(staff, "admin").status_code == 302
    audio = staff.get(f"/exam/media/{ids['TIU3']}")
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"


def test_a_media_name_outside_the_bank_folder_is_never_served(app, media_sitting):
    sitting_id, ids = media_sitting
    with app.app_context():
        item = db.session.get(Item, ids["TIU1"])
        item.media = "../../rahasia.png"  # an import refuses this; the route checks again
        db.session.commit()
    client, _ = connect(app, sitting_id)
    assert client.get(f"/exam/media/{ids['TIU1']}").status_code == 404


def test_no_media_before_the_start_and_no_file_name_in_any_header(app, media_sitting):
    """Issue 16: the first section is presented at login; its media waits for the start."""
    sitting_id, ids = media_sitting
    with app.app_context():
        sitting = db.session.get(Sitting, sitting_id)
        sitting.status, sitting.started_at = "open", None
        db.session.commit()
    client, sock = connect(app, sitting_id)
    assert last_event(sock, "state", "/exam")["status"] == "waiting"
    assert client.get(f"/exam/media/{ids['TIU1']}").status_code == 404
    with app.app_context():
        attempts.start_sitting(sitting_id, "test")
    shown = client.get(f"/exam/media/{ids['TIU1']}")
    assert shown.status_code == 200 and shown.data == PNG
    assert not any("grafik" in value for _, value in shown.headers.items())
    assert "Content-Disposition" not in shown.headers


def test_a_proctor_sees_only_the_media_of_banks_in_their_own_sittings(app, media_sitting):
    sitting_id, ids = media_sitting
    with app.app_context():
        own = make_user("pengawas-a", role="proctor")
        make_user("pengawas-b", role="proctor")
        sitting = db.session.get(Sitting, sitting_id)
        sitting.proctors.append(own)
        db.session.commit()
    stranger, theirs = app.test_client(), app.test_client()
    assert login_staff(stranger, "pengawas-b").status_code == 302
    assert login_staff(theirs, "pengawas-a").status_code == 302
    assert stranger.get(f"/exam/media/{ids['TIU1']}").status_code == 404
    assert theirs.get(f"/exam/media/{ids['TIU1']}").status_code == 200
