"""Saving exams from a checked exam file or the builder form; import and export of the file.

The page and ``cat-server exam import/export`` call these; both go through
``exam_files.read_exam_document``, so both refuse the same things with the
same words. An exam is saved whole or not at all.
"""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np

from .. import irt
from ..errors import NotFound
from ..exam import catalog
from ..extensions import db
from ..models import Exam, ExamSection, Item, Sitting, audit
from ..sealed.release import package_of_bank
from .exam_files import FORMAT, NAVIGATION, VERSION, read_exam_document
from .sittings import FormProblems, _

MAX_FILE_BYTES = 2 * 1024 * 1024


def get_exam(exam_id: int) -> Exam:
    exam = db.session.get(Exam, exam_id) if exam_id else None
    if exam is None:
        raise NotFound("Ujian tidak ditemukan.", "Exam not found.")
    return exam


def save_exam_document(doc, actor: str, exam_id: int | None = None, commit=True) -> Exam:
    """Create an exam from a document, or replace exam ``exam_id`` while no sitting uses it.

    ``commit=False``: part of the caller's transaction (a sealed package's import).
    """
    exam = get_exam(exam_id) if exam_id is not None else None
    if exam is not None:
        used = db.session.scalar(
            db.select(db.func.count()).select_from(Sitting).where(Sitting.exam_id == exam.id)
        )
        if used:
            raise FormProblems(
                [
                    (
                        "",
                        _(
                            "ujian ini sudah dipakai %(n)s sesi dan tidak bisa diubah; "
                            "simpan sebagai ujian baru",
                            n=used,
                        ),
                    )
                ]
            )
    plan = read_exam_document(doc)
    if commit and package_of_bank(plan.bank.id) is not None:
        raise FormProblems(
            [("bank", _("bank paket tersegel hanya dipakai ujian paketnya sendiri"))]
        )
    if exam is None:
        exam = Exam(**plan.exam)
        db.session.add(exam)
        action = "exam_created"
    else:
        for key, value in plan.exam.items():
            setattr(exam, key, value)
        for section in list(exam.sections):
            db.session.delete(section)
        exam.sections.clear()
        db.session.flush()
        action = "exam_changed"
    for section in plan.sections:
        exam.sections.append(sympson_hetter(plan.bank.id, ExamSection(**section)))
    db.session.flush()
    audit(actor, action, exam_id=exam.id, name=exam.name, bank_id=plan.bank.id)
    if commit:
        db.session.commit()
    return exam


SH_EXAMINEES, SH_ROUNDS, SH_SEED = 500, 6, 20261206


def sympson_hetter(bank_id: int, section: ExamSection) -> ExamSection:
    """A Sympson–Hetter section gets each pool item's parameter now, by simulating the section
    (irt.simulation.sympson_hetter_parameters, a fixed seed: the same file, the same values)."""
    engine = section.engine or {}
    if engine.get("exposure") != "sympson-hetter":
        return section
    items = (
        db.session.execute(
            db.select(Item)
            .where(
                Item.bank_id == bank_id,
                Item.section.in_(section.pool_tags),
                Item.status == "active",
            )
            .order_by(Item.position)
        )
        .scalars()
        .all()
    )
    ids = [i.id for i in items]
    k = irt.simulation.sympson_hetter_parameters(
        catalog.engine_bank(items),
        # pretest items are never in an exposure count: the simulation goes without them
        dataclasses.replace(catalog.engine_config(section, ids), pretest_max=0),
        np.random.default_rng(SH_SEED),
        r_max=engine["r_max"],
        n_examinees=SH_EXAMINEES,
        n_rounds=SH_ROUNDS,
    )
    section.engine = engine | {
        "sh_k": {str(i): round(float(v), 4) for i, v in zip(ids, k, strict=True)}
    }
    return section


def import_exam_file(data: bytes, filename: str, actor: str) -> Exam:
    """A new exam from an exam file (JSON); FormProblems names what is wrong, nothing saved."""
    if len(data) > MAX_FILE_BYTES:
        raise FormProblems([("file", _("berkas terlalu besar (paling besar 2 MB)"))])
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormProblems(
            [("file", _("%(file)s bukan JSON yang sah: %(error)s", file=filename, error=error))]
        ) from None
    return save_exam_document(doc, actor)


def export_exam_file(exam_id: int) -> str:
    """The exam file's text: fields in a fixed order, two-space indent: equal exams, equal files."""
    return json.dumps(exam_document(get_exam(exam_id)), ensure_ascii=False, indent=2) + "\n"


def exam_document(exam: Exam) -> dict:
    """The exam as a file; reading it back gives the same exam (docs/formats.md)."""
    code_of = {
        i.id: i.code
        for i in db.session.execute(db.select(Item).where(Item.bank_id == exam.bank_id)).scalars()
    }
    sections = []
    for s in exam.sections:
        selection = s.selection or {}
        doc = {
            "code": s.code,
            "name": s.name,
            "navigation": "adaptive"
            if s.mode == "adaptive"
            else ("navigable" if s.navigable else "linear"),
            "pool": list(s.pool_tags),
            "scoring": {
                "points_correct": s.points_correct,
                "option_weights": "bank",
                "pass_mark": s.pass_mark,
            },
            "time_limit_minutes": s.time_limit_min,
            "shuffle_options": s.shuffle_options,
        }
        if s.mode == "adaptive":
            engine = s.engine or {}
            doc["adaptive"] = {
                "start_theta": float(engine.get("start_theta", 0.0)),
                "estimator": "eap",
                "selection": engine.get("selection", "mfi"),
                "exposure": _exposure(s),
                "content": s.content,
                "enemy_groups": "bank",
                "stopping": {
                    "min_items": s.min_items or 0,
                    "max_items": s.n_items,
                    "se_target": s.se_target,
                    "classification": engine.get("classification"),
                },
                "score": "scaled",
            }
            if engine.get("pretest_rate"):
                doc["adaptive"]["pretest"] = {"rate": engine["pretest_rate"]}
            elif engine.get("pretest"):
                doc["adaptive"]["pretest"] = {"items": engine["pretest"]}
        else:
            kind = selection.get("type", "pool")
            sel = {"type": kind}
            if kind == "pool":
                sel["n"] = s.n_items
            elif kind == "per_tag":
                sel["counts"] = dict(selection["counts"])
            elif kind == "items":
                sel["items"] = [code_of[i] for i in selection["items"]]
            else:
                sel["forms"] = [[code_of[i] for i in f] for f in selection["forms"]]
            doc["selection"] = sel
            doc["shuffle_items"] = s.shuffle
        sections.append(doc)
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": exam.name,
        "bank": {"name": exam.bank.name, "version": exam.bank.version},
        "time": {"total_minutes": exam.duration_s // 60, "late_login": exam.late_login},
        "result": exam.result_view if exam.show_result else "none",
        "pass_total": exam.pass_total,
        "sections": sections,
    }


# --- the builder form ------------------------------------------------------------
# One fieldset per section, fields named "s<k>-<field>"; the form becomes an exam
# document and goes through the same checks as a file.


def _number(text: str | None, kind=int):
    text = (text or "").strip().replace(",", ".") if kind is float else (text or "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return text  # the document check names it: "must be a whole number, not '...'"


def _pairs(text: str, kind=int) -> dict:
    """``"TWK: 5, TIU: 5"`` → {"TWK": 5, "TIU": 5}; ``"TWK: 5-25"`` → {"TWK": [5, 25]}."""
    out = {}
    for part in (text or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        tag, _sep, value = part.partition(":")
        value = value.strip()
        if "-" in value.lstrip("-"):
            low, _sep, high = value.partition("-")
            out[tag.strip()] = [_number(low), _number(high)]
        else:
            out[tag.strip()] = _number(value, kind)
    return out


def _codes(text: str) -> list[str]:
    return [c.strip() for c in (text or "").replace("\n", ",").split(",") if c.strip()]


def form_document(form, bank_name: str | None, bank_version: int | None) -> dict:
    """The builder form as an exam document (every field as typed; the checks judge it)."""
    sections = []
    for k in range(1, 1 + int(form.get("n_sections", "0") or 0)):
        field = functools.partial(_field, form, k)
        if not field("code").strip() and not field("name").strip():
            continue  # an empty row of the form
        navigation = field("navigation", "navigable")
        doc = {
            "code": field("code").strip(),
            "name": field("name").strip(),
            "navigation": navigation if navigation in NAVIGATION else navigation or None,
            "pool": _codes(field("pool")) or None,
            "scoring": {
                "points_correct": _number(field("points_correct", "5")),
                "option_weights": "bank",
                "pass_mark": _number(field("pass_mark")),
            },
            "time_limit_minutes": _number(field("time_limit")),
            "shuffle_options": bool(field("shuffle_options")),
        }
        if navigation == "adaptive":
            exposure = {"method": field("exposure", "randomesque")}
            if exposure["method"] == "randomesque":
                exposure["k"] = _number(field("randomesque_k", "5"))
            elif exposure["method"] == "sympson-hetter":
                exposure["r_max"] = _number(field("r_max"), float)
            content = field("content").strip()
            classification = None
            if field("cut").strip():
                classification = {
                    "method": field("classification", "sprt"),
                    "cut": _number(field("cut"), float),
                }
            doc["adaptive"] = {
                "start_theta": _number(field("start_theta", "0"), float),
                "estimator": field("estimator", "eap"),
                "selection": field("rule", "mfi"),
                "exposure": exposure,
                "content": _pairs(content, float) if content else None,
                "enemy_groups": "bank",
                "stopping": {
                    "min_items": _number(field("min_items", "0")),
                    "max_items": _number(field("max_items")),
                    "se_target": _number(field("se_target"), float),
                    "classification": classification,
                },
                "score": "scaled",
            }
            if field("pretest_items").strip() not in ("", "0"):
                doc["adaptive"]["pretest"] = {"items": _number(field("pretest_items"))}
            if field("pretest_rate").strip() not in ("", "0"):  # both: the file check says so
                pretest = doc["adaptive"].setdefault("pretest", {})
                pretest["rate"] = _number(field("pretest_rate"), float)
        else:
            kind = field("selection", "pool")
            selection = {"type": kind}
            if kind == "pool":
                selection["n"] = _number(field("n"))
            elif kind == "per_tag":
                selection["counts"] = _pairs(field("counts"))
            elif kind == "items":
                selection["items"] = _codes(field("items"))
            elif kind == "forms":
                selection["forms"] = [
                    _codes(line) for line in field("forms").splitlines() if line.strip()
                ]
            doc["selection"] = selection
            doc["shuffle_items"] = bool(field("shuffle_items"))
        sections.append(doc)
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": form.get("name", ""),
        "bank": {"name": bank_name, "version": bank_version},
        "time": {
            "total_minutes": _number(form.get("total_minutes")),
            "late_login": form.get("late_login", "remaining"),
        },
        "result": form.get("result", "sections"),
        "pass_total": _number(form.get("pass_total")),
        "sections": sections,
    }


def document_form(doc: dict) -> dict:
    """An exam document as the builder form's fields (to edit an exam on the page)."""
    form = {
        "name": doc["name"],
        "total_minutes": str(doc["time"]["total_minutes"]),
        "late_login": doc["time"]["late_login"],
        "result": doc["result"],
        "pass_total": _text(doc["pass_total"]),
        "n_sections": str(len(doc["sections"]) + 1),
    }
    for k, s in enumerate(doc["sections"], start=1):
        put = functools.partial(_put, form, k)
        put("code", s["code"])
        put("name", s["name"])
        put("navigation", s["navigation"])
        put("pool", ", ".join(s["pool"]))
        put("points_correct", s["scoring"]["points_correct"])
        put("pass_mark", s["scoring"]["pass_mark"])
        put("time_limit", s["time_limit_minutes"])
        put("shuffle_options", "1" if s["shuffle_options"] else "")
        if s["navigation"] == "adaptive":
            ad = s["adaptive"]
            stop = ad["stopping"]
            put("start_theta", ad["start_theta"])
            put("estimator", ad["estimator"])
            put("rule", ad["selection"])
            put("exposure", ad["exposure"]["method"])
            put("randomesque_k", ad["exposure"].get("k"))
            put("r_max", ad["exposure"].get("r_max"))
            put("content", _pairs_text(ad["content"]))
            put("min_items", stop["min_items"])
            put("max_items", stop["max_items"])
            put("se_target", stop["se_target"])
            put("pretest_items", (ad.get("pretest") or {}).get("items", 0))
            put("pretest_rate", (ad.get("pretest") or {}).get("rate", ""))
            if stop["classification"]:
                put("classification", stop["classification"]["method"])
                put("cut", stop["classification"]["cut"])
        else:
            sel = s["selection"]
            put("selection", sel["type"])
            put("n", sel.get("n"))
            put("counts", _pairs_text(sel.get("counts")))
            put("items", ", ".join(sel.get("items", [])))
            put("forms", "\n".join(", ".join(f) for f in sel.get("forms", [])))
            put("shuffle_items", "1" if s["shuffle_items"] else "")
    return form


def _exposure(section: ExamSection) -> dict:
    engine = section.engine or {}
    if engine.get("exposure") == "sympson-hetter":
        return {"method": "sympson-hetter", "r_max": engine["r_max"]}
    if section.randomesque_k > 1:
        return {"method": "randomesque", "k": section.randomesque_k}
    return {"method": "none"}


def _field(form, k: int, name: str, default: str = "") -> str:
    return form.get(f"s{k}-{name}", default)


def _put(form: dict, k: int, name: str, value) -> None:
    form[f"s{k}-{name}"] = _text(value)


def _text(value) -> str:
    return "" if value is None else str(value)


def _pairs_text(pairs: dict | None) -> str:
    if not pairs:
        return ""
    return ", ".join(
        f"{tag}: {v[0]}-{v[1]}" if isinstance(v, list) else f"{tag}: {v}"
        for tag, v in pairs.items()
    )
