"""``cat-server keys``: the centre's signing key stays in a 0600 file; sealing is bound to its purpose."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cat_server.sealed import keys


@pytest.fixture
def instance(app, tmp_path):
    app.config.update(CENTRE_KEY_FILE=None, ISSUER_KEY_FILE=None, CENTRE_KEY=None)
    app.instance_path = str(tmp_path / "instance")
    return tmp_path / "instance"


def test_create_writes_a_private_key_only_its_owner_reads_and_never_prints_it(app, instance):
    result = app.test_cli_runner().invoke(args=["keys", "create"])
    assert result.exit_code == 0, result.output
    path = instance / "keys" / "centre-ed25519.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "PRIVATE" not in result.output and "BEGIN PUBLIC KEY" in result.output
    again = app.test_cli_runner().invoke(args=["keys", "create"])
    assert again.exit_code == 2 and "never overwritten" in again.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_key_file_others_can_read_is_refused_with_the_fix(app, instance):
    with app.app_context():
        keys.write_private_key(keys.centre_key_path())
        os.chmod(keys.centre_key_path(), 0o644)
        with pytest.raises(keys.KeyProblem, match="chmod 600"):
            keys.centre_private_key()


def test_the_issuer_key_must_be_an_ed25519_public_key(app, instance, tmp_path):
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    wrong = tmp_path / "p256.pub"
    wrong.write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    result = app.test_cli_runner().invoke(args=["keys", "import-issuer", str(wrong)])
    assert result.exit_code == 2 and "not an Ed25519 public key" in result.output
    assert not (instance / "keys" / "issuer-ed25519.pub").exists()

    issuer = tmp_path / "issuer.pem"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["keys", "create", "--out", str(issuer)]).exit_code == 0
    public = runner.invoke(args=["keys", "export-public", "--key", str(issuer)]).output
    (tmp_path / "issuer.pub").write_text(public)
    result = runner.invoke(args=["keys", "import-issuer", str(tmp_path / "issuer.pub")])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert keys.fingerprint(keys.issuer_public_key()) in result.output


def test_a_sealed_secret_opens_only_for_its_purpose_and_with_this_centres_key(app, instance):
    with app.app_context():
        keys.write_private_key(keys.centre_key_path())
        blob = keys.seal("sitting:7", b"package data key")
        assert b"package data key" not in blob
        assert keys.unseal("sitting:7", blob) == b"package data key"
        with pytest.raises(keys.KeyProblem):
            keys.unseal("sitting:8", blob)
        keys.centre_key_path().unlink()
        keys.write_private_key(keys.centre_key_path())  # another centre's key
        with pytest.raises(keys.KeyProblem):
            keys.unseal("sitting:7", blob)
