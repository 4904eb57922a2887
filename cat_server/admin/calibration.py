"""Calibration of pretest items (web and CLI) and item statistics of a bank version.

A run calibrates the bank's pretest items from responses collected in live
exams (or an uploaded wide CSV) with the engine's EM calibration, keeping the
bank's active items fixed as anchors so the new parameters land on the
operational scale. The proposal is saved (``instance/calibration/<token>.json``)
for review beside the old parameters; accepting writes the chosen items'
parameters and activates them in one transaction.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import tempfile
from pathlib import Path

import numpy as np
from flask import current_app

from .. import irt, spreadsheet
from ..errors import NotFound
from ..exam import catalog
from ..extensions import db
from ..irt import io as irt_io
from ..irt.calibration import UncalibratableItem
from ..itembank.formats import DICHOTOMOUS
from ..models import Attempt, Exam, Item, ItemBank, Presentation, Response, Sitting, audit, utcnow
from ..sealed.release import package_of_bank
from .sittings import FormProblems, _
from .words import input_problem_text, uncalibratable_text

MODELS = ("1pl", "2pl", "3pl", "4pl", "grm", "gpcm")
# Lognormal prior on a, log a ~ N(0, 0.5) (BILOG-MG's slope prior, mirt's lnorm(0, 0.5)):
# a pretest item answered at one centre has a few dozen answers, and without a prior its
# discrimination can run away (5.8 on 30 answers; tests/irt/test_irt_calibration.py).
PRETEST_A_PRIOR = (0.0, 0.5)


def _family(model: str) -> str:
    return "dichotomous" if model in DICHOTOMOUS else "polytomous"


def irt_items(items: list[Item]):
    """The engine's parameter arrays for these items, in order."""
    return irt.make_items(**catalog.item_parameters(items))


def _category(item: Item, score: int) -> int:
    return score - min(item.option_scores) if item.option_scores else int(score > 0)


def collected_matrix(bank: ItemBank) -> tuple[list[str], list[str], np.ndarray]:
    """Responses of live attempts to this bank's items: persons x items, -1 where not shown."""
    rows = db.session.execute(
        db.select(Response.attempt_id, Response.score, Item)
        .join(Item, Response.item_id == Item.id)
        .where(Item.bank_id == bank.id)
    ).all()
    persons = sorted({r.attempt_id for r in rows})
    codes = sorted({r.Item.code for r in rows}, key=lambda c: c)
    p_index = {p: k for k, p in enumerate(persons)}
    i_index = {c: k for k, c in enumerate(codes)}
    x = np.full((len(persons), len(codes)), -1, dtype=np.int64)
    for attempt_id, score, item in rows:
        x[p_index[attempt_id], i_index[item.code]] = _category(item, score)
    return [str(p) for p in persons], codes, x


def run_calibration(
    bank_id: int,
    model: str,
    actor: str,
    upload: bytes | None = None,
    filename: str = "responses.csv",
    a_prior: tuple[float, float] | None = PRETEST_A_PRIOR,
) -> dict:
    """Calibrate the bank's pretest items of ``model``'s family; save and return the proposal.

    ``a_prior``: (mean, sd) of log a, the lognormal prior on the discriminations
    (:data:`PRETEST_A_PRIOR` unless told otherwise; ``None``: no prior).
    """
    bank = db.session.get(ItemBank, bank_id) if bank_id else None
    if bank is None:
        raise FormProblems(
            [("bank_id", _("tidak ada versi bank soal dengan id %(id)s", id=bank_id))]
        )
    if package_of_bank(bank.id) is not None:  # its parameters are the issuer's, and sealed
        raise FormProblems(
            [
                (
                    "bank_id",
                    _(
                        "%(name)s adalah paket tersegel: penerbit yang mengkalibrasi",
                        name=bank.name,
                    ),
                )
            ]
        )
    if model not in MODELS:
        raise FormProblems([("model", _("salah satu dari %(options)s", options=", ".join(MODELS)))])
    by_code = {i.code: i for i in bank.items}
    if upload is not None:
        with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as f:
            f.write(upload)
        try:
            max_score = None if _family(model) == "dichotomous" else 4
            _persons, codes, x = irt_io.read_responses(f.name, model, max_score)
        except irt_io.InputError as error:  # in the page's language (English in the CLI)
            raise FormProblems([("file", input_problem_text(error, filename))]) from None
        except ValueError as error:
            raise FormProblems([("file", f"{filename}: {error}")]) from None
        finally:
            os.unlink(f.name)
        # our responses export writes a code like "=A1" as "'=A1" (spreadsheet.py)
        codes = [spreadsheet.restore_cell(c) for c in codes]
        unknown = [c for c in codes if c not in by_code]
        if unknown:
            raise FormProblems(
                [
                    (
                        "file",
                        _(
                            "%(file)s: kolom yang tidak ada di %(bank)s v%(version)s: %(codes)s",
                            file=filename,
                            bank=bank.name,
                            version=bank.version,
                            codes=", ".join(unknown[:20]),
                        ),
                    )
                ]
            )
        source = filename
    else:
        _persons, codes, x = collected_matrix(bank)
        source = "collected responses"
    family = _family(model)
    keep = [j for j, c in enumerate(codes) if _family(by_code[c].model) == family]
    codes = [codes[j] for j in keep]
    x = x[:, keep]
    x = x[(x >= 0).sum(axis=1) > 0]
    free = [j for j, c in enumerate(codes) if by_code[c].status == "pretest"]
    if not free:
        raise FormProblems(
            [
                (
                    "bank_id",
                    _(
                        "tidak ada jawaban untuk soal pretest %(family)s dari %(bank)s "
                        "v%(version)s di %(source)s",
                        family={"dichotomous": _("dikotomus"), "polytomous": _("politomus")}.get(
                            family, family
                        ),
                        bank=bank.name,
                        version=bank.version,
                        source=_("jawaban terkumpul")
                        if source == "collected responses"
                        else source,
                    ),
                )
            ]
        )
    if x.shape[0] < 2:
        raise FormProblems([("bank_id", _("kurang dari dua orang menjawab soal-soal ini"))])
    anchor_items = [by_code[codes[j]] for j in range(len(codes)) if j not in free]
    anchors_arr = irt_items(anchor_items) if anchor_items else None
    anchor_cols = [j for j in range(len(codes)) if j not in free]
    anchors = {j: (anchors_arr, k) for k, j in enumerate(anchor_cols)} or None
    n_cat = None
    if family == "polytomous":
        n_cat = np.array([len(by_code[c].option_scores or (0, 1)) for c in codes])
    try:
        result = irt.calibrate(
            x,
            model,
            anchors=anchors,
            n_cat=n_cat,
            item_id=list(codes),
            a_prior=False if a_prior is None else a_prior,
        )
    except UncalibratableItem as error:  # in the page's language (English in the CLI)
        raise FormProblems([("responses", uncalibratable_text(error))]) from None
    except ValueError as error:
        raise FormProblems([("responses", str(error))]) from None
    rows = []
    for j in free:
        item = by_code[codes[j]]
        new = _params_of(result.items, j, model)
        se = {
            k: _round(v[j])
            if np.ndim(v[j]) == 0
            else [_round(t) for t in v[j] if not math.isnan(t)]
            for k, v in result.se.items()
        }
        rows.append(
            {
                "item_id": item.id,
                "code": item.code,
                "n": int((x[:, j] >= 0).sum()),
                "old": {
                    "model": item.model,
                    "a": item.a,
                    "b": item.b,
                    "c": item.c,
                    "d": item.d,
                    "thresholds": item.thresholds,
                },
                "new": new,
                "se": se,
                "infit": _round(result.fit["infit"][j]),
                "outfit": _round(result.fit["outfit"][j]),
                # Orlando-Thissen S-X2: persons who answered every item only (None otherwise)
                "s_x2": _round(result.fit["s_x2"][j]),
                "s_x2_df": _round(result.fit["s_x2_df"][j]),
                "s_x2_p": _round(result.fit["s_x2_p"][j]),
            }
        )
    proposal = {
        "token": secrets.token_hex(8),
        "bank_id": bank.id,
        "model": model,
        "source": source,
        "n_persons": int(x.shape[0]),
        "n_anchors": len(anchor_cols),
        "a_prior": None if a_prior is None or model == "1pl" else list(a_prior),
        "converged": bool(result.converged),
        "n_iter": int(result.n_iter),
        "log_likelihood": round(float(result.log_likelihood), 2),
        "aic": round(float(result.aic), 2),
        "bic": round(float(result.bic), 2),
        "n_parameters": int(result.n_parameters),
        "created_by": actor,
        "created_at": utcnow().isoformat(timespec="seconds"),
        "items": rows,
    }
    _proposal_path(proposal["token"]).write_text(json.dumps(proposal, indent=1))
    audit(
        actor,
        "calibration_run",
        bank_id=bank.id,
        model=model,
        source=source,
        items=len(rows),
        persons=proposal["n_persons"],
        token=proposal["token"],
    )
    db.session.commit()
    return proposal


def _round(v):
    v = float(v)
    return None if math.isnan(v) else round(v, 4)


def _params_of(items, j, model) -> dict:
    if model in DICHOTOMOUS:
        return {
            "model": model,
            "a": _round(items.a[j]),
            "b": _round(items.b[j]),
            "c": _round(items.c[j]) if model in ("3pl", "4pl") else 0.0,
            "d": _round(items.d[j]) if model == "4pl" else 1.0,
            "thresholds": None,
        }
    return {
        "model": model,
        "a": _round(items.a[j]),
        "b": None,
        "c": 0.0,
        "thresholds": [_round(t) for t in items.thresholds[j] if not math.isnan(t)],
    }


def _proposal_path(token: str) -> Path:
    if not token.isalnum():
        raise NotFound("Kalibrasi tidak ditemukan.", "Calibration run not found.")
    folder = Path(current_app.instance_path) / "calibration"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{token}.json"


def load_proposal(token: str) -> dict:
    path = _proposal_path(token)
    if not path.exists():
        raise NotFound("Kalibrasi tidak ditemukan.", "Calibration run not found.")
    return json.loads(path.read_text())


def accept(token: str, item_ids: list[int], actor: str, reason: str | None = None) -> int:
    """Write the new parameters of the chosen items and make them active: all in one commit.

    A reason is required; every process uses the new parameters from its next
    pick on (``catalog.move_version``).
    """
    proposal = load_proposal(token)
    if proposal.get("accepted_at"):
        raise FormProblems([("token", _("hasil kalibrasi ini sudah diterima"))])
    chosen = [r for r in proposal["items"] if r["item_id"] in set(item_ids)]
    if not chosen:
        raise FormProblems([("items", _("pilih paling sedikit satu soal untuk diterima"))])
    if not (reason or "").strip():
        raise FormProblems([("reason", _("isi alasannya (dicatat di log audit)"))])
    catalog.move_version()
    for row in chosen:
        item = db.session.get(Item, row["item_id"])
        if item is None or item.bank_id != proposal["bank_id"]:
            raise FormProblems(
                [("items", _("soal %(code)s tidak ada lagi di bank", code=row["code"]))]
            )
        new = row["new"]
        item.model, item.a, item.b, item.c = new["model"], new["a"], new["b"], new["c"]
        item.d = new.get("d", 1.0)  # proposals before the 4PL had no d: 1PL-3PL, d = 1
        item.thresholds = new["thresholds"]
        item.status = "active"
        audit(
            actor,
            "item_calibrated",
            reason=reason,
            bank_id=item.bank_id,
            item=item.code,
            old=row["old"],
            new=new,
            token=token,
        )
    db.session.commit()
    proposal["accepted_at"] = utcnow().isoformat(timespec="seconds")
    proposal["accepted_items"] = [r["item_id"] for r in chosen]
    _proposal_path(token).write_text(json.dumps(proposal, indent=1))
    return len(chosen)


# --- item statistics -------------------------------------------------------------


def item_statistics(bank: ItemBank) -> tuple[int, list[dict]]:
    """(attempts, per-item rows): presented, answered, p-value, point-biserial, exposure.

    p-value: share right (dichotomous) or mean score as a share of the range
    (polytomous). Point-biserial: correlation of the item score with the rest
    of the attempt's total (the item left out). Exposure: presentations / attempts.
    """
    attempts = db.session.execute(
        db.select(Attempt.id, Attempt.total_score)
        .join(Sitting, Attempt.sitting_id == Sitting.id)
        .join(Exam, Sitting.exam_id == Exam.id)
        .where(Exam.bank_id == bank.id, Attempt.status != "waiting")
    ).all()
    totals = {a.id: a.total_score for a in attempts}
    presented = dict(
        db.session.execute(
            db.select(Presentation.item_id, db.func.count())
            .join(Item, Presentation.item_id == Item.id)
            .where(Item.bank_id == bank.id)
            .group_by(Presentation.item_id)
        ).all()
    )
    responses: dict[int, list[tuple[int, int]]] = {}
    for attempt_id, item_id, score in db.session.execute(
        db.select(Response.attempt_id, Response.item_id, Response.score)
        .join(Item, Response.item_id == Item.id)
        .where(Item.bank_id == bank.id)
    ):
        responses.setdefault(item_id, []).append((attempt_id, score))
    rows = []
    for item in bank.items:
        got = responses.get(item.id, [])
        scores = np.array([s for _code, s in got], dtype=float)
        rest = np.array([totals.get(a, 0) - s for a, s in got], dtype=float)
        if item.option_scores:
            lo, hi = min(item.option_scores), max(item.option_scores)
            share = (scores - lo) / (hi - lo) if hi > lo else np.zeros_like(scores)
        else:
            share = (scores > 0).astype(float)
        p = float(share.mean()) if len(got) else None
        r_pb = None
        if len(got) >= 3 and share.std() > 0 and rest.std() > 0:
            r_pb = float(np.corrcoef(share, rest)[0, 1])
        rows.append(
            {
                "item": item,
                "presented": presented.get(item.id, 0),
                "answered": len(got),
                "p": p,
                "r_pb": r_pb,
                "exposure": presented.get(item.id, 0) / len(attempts) if attempts else None,
            }
        )
    return len(attempts), rows


def information_svg(bank: ItemBank, width: int = 720, height: int = 300) -> str:
    """Test information of each section (active items) over theta -4..4, as an SVG drawing."""
    theta = np.linspace(-4, 4, 81)
    sections: dict[str, list[Item]] = {}
    for item in bank.items:
        if item.status == "active":
            sections.setdefault(item.section, []).append(item)
    curves = {s: irt.test_information(theta, irt_items(items)) for s, items in sections.items()}
    top = max([float(c.max()) for c in curves.values()] + [1.0])
    left, right, upper, lower = 48, 130, 14, 34
    w, h = width - left - right, height - upper - lower

    def x_of(t):
        return left + (t + 4) / 8 * w

    def y_of(v):
        return upper + h - v / top * h

    colours = ["#0f5fb3", "#15803d", "#b42318", "#7a4d00", "#5b21b6", "#0e7490"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="Test information by section">',
        f'<rect x="{left}" y="{upper}" width="{w}" height="{h}" fill="#fff" stroke="#d5dbe1"/>',
    ]
    for t in range(-4, 5):
        parts.append(
            f'<line x1="{x_of(t):.1f}" y1="{upper}" x2="{x_of(t):.1f}" '
            f'y2="{upper + h}" stroke="#eef1f4"/>'
            f'<text x="{x_of(t):.1f}" y="{upper + h + 16}" font-size="11" '
            f'text-anchor="middle">{t}</text>'
        )
    for k in range(5):
        v = top * k / 4
        parts.append(
            f'<text x="{left - 6}" y="{y_of(v) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{v:.1f}</text>'
        )
    parts.append(
        f'<text x="{left + w / 2}" y="{height - 4}" font-size="12" '
        'text-anchor="middle">θ (kemampuan / ability)</text>'
    )
    for n, (section, curve) in enumerate(sorted(curves.items())):
        colour = colours[n % len(colours)]
        points = " ".join(f"{x_of(t):.1f},{y_of(v):.1f}" for t, v in zip(theta, curve, strict=True))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        label = section.replace("&", "&amp;").replace("<", "&lt;")
        parts.append(
            f'<rect x="{left + w + 12}" y="{upper + 6 + n * 20}" width="14" '
            f'height="4" fill="{colour}"/><text x="{left + w + 32}" '
            f'y="{upper + 12 + n * 20}" font-size="12">{label} '
            f"({len(sections[section])})</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
