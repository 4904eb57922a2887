"""The exam file (JSON, versioned): read and check one against its bank, write one from an exam.

``read_exam_document`` turns a document into the exam's columns, or raises
``FormProblems`` naming every problem (``sections[2].selection.counts.TWK``
and what was expected) in the page's language; nothing is written here.
``exam_builder.exam_document`` is the inverse. docs/formats.md describes every field. A setting the delivery
code does not honour yet is refused here, never stored and ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..extensions import db
from ..models import Item, ItemBank, pretest_cap
from .sittings import MAX_EXAM_MINUTES, FormProblems, _

FORMAT = "cat-server-exam"
VERSION = 1
NAVIGATION = ("navigable", "linear", "adaptive")
SELECTION = ("pool", "per_tag", "items", "forms")
RESULT = ("none", "total", "sections")
RULES = ("mfi", "pwi", "kl")
MAX_NUMBER = 10**6


@dataclass
class ExamPlan:
    """A checked document: the exam's columns and its sections' columns, ready to save."""

    bank: ItemBank
    exam: dict
    sections: list[dict] = field(default_factory=list)


class _Check:
    """Reads fields of a JSON document, collecting (field, message) problems."""

    def __init__(self):
        self.problems: list[tuple[str, str]] = []

    def bad(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    def get(self, obj: dict, key: str, where: str, kind, default=..., low=None, high=None):
        """``obj[key]`` if it is a ``kind`` within [low, high]; ``default`` when missing."""
        path = f"{where}.{key}" if where else key
        if not isinstance(obj, dict) or key not in obj or obj[key] is None:
            if default is ...:
                self.bad(path, _("wajib diisi"))
            return None if default is ... else default
        value = obj[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            names = {int: _("bilangan bulat"), float: _("angka"), str: _("teks")}
            names |= {bool: "true/false", list: _("daftar"), dict: _("objek")}
            self.bad(
                path, _("harus %(kind)s, bukan %(value)s", kind=names[kind], value=repr(value))
            )
            return None if default is ... else default
        if kind is float and not math.isfinite(value):
            self.bad(path, _("harus angka terhingga"))
            return None
        if low is not None and value < low or high is not None and value > high:
            self.bad(path, _("harus antara %(low)s dan %(high)s", low=low, high=high))
            return None
        return value

    def choice(self, obj, key, where, options, default=...):
        value = self.get(obj, key, where, str, default)
        if value is not None and value not in options:
            path = f"{where}.{key}" if where else key
            self.bad(path, _("salah satu dari %(options)s", options=", ".join(options)))
            return None
        return value


class _Bank:
    """The bank's items, read once for the checks: by code, and the active ones by tag."""

    def __init__(self, items):
        self.items = list(items)
        self.by_code = {i.code: i for i in self.items}
        self.by_id = {i.id: i for i in self.items}

    def active(self, tags) -> list[Item]:
        return sorted(
            (i for i in self.items if i.section in tags and i.status == "active"),
            key=lambda i: i.position,
        )

    def pretest(self, tags) -> list[Item]:
        """The pretest items of these tags that the engine can hold (provisional parameters)."""
        return [
            i
            for i in self.items
            if i.section in tags
            and i.status == "pretest"
            and (i.thresholds if i.model in ("grm", "gpcm") else i.b is not None)
        ]


class _RowItem:
    """A bank file's row where the checks expect an Item: id, code, section, status, group."""

    def __init__(self, position: int, row):
        self.id = self.position = position
        self.code, self.section, self.status = row.item_id, row.section, row.status
        self.enemy_group, self.model = row.enemy_group, row.model
        self.b, self.thresholds = row.b, row.thresholds


def fit(items) -> int:
    """How many of ``items`` can share an attempt: one item of each enemy group."""
    groups = [i.enemy_group for i in items]
    return sum(1 for g in groups if not g) + len({g for g in groups if g})


def read_exam_document(doc, rows=None) -> ExamPlan:
    """Check a document against its bank; FormProblems lists every problem, nothing is written.

    ``rows`` (a bank file's ItemRows, for an issuer building a sealed package):
    check against them instead; the document names no bank then.
    """
    check = _Check()
    if not isinstance(doc, dict):
        raise FormProblems([("", _("berkas ujian harus berupa objek JSON"))])
    if doc.get("format") != FORMAT:
        check.bad("format", _("harus %(value)s", value=repr(FORMAT)))
    if doc.get("version") != VERSION:
        check.bad("version", _("versi format yang dikenal: %(value)s", value=VERSION))
    name = (check.get(doc, "name", "", str) or "").strip()
    if doc.get("name") is not None and not name:
        check.bad("name", _("beri nama ujian"))
    bank_name = bank_version = None
    if rows is None:
        bank_doc = check.get(doc, "bank", "", dict) or {}
        bank_name = check.get(bank_doc, "name", "bank", str)
        bank_version = check.get(bank_doc, "version", "bank", int, low=1, high=MAX_NUMBER)
    bank = None
    if bank_name and bank_version:
        bank = db.session.execute(
            db.select(ItemBank).where(ItemBank.name == bank_name, ItemBank.version == bank_version)
        ).scalar_one_or_none()
        if bank is None:
            versions = db.session.execute(
                db.select(ItemBank.version).where(ItemBank.name == bank_name)
            ).scalars()
            check.bad(
                "bank",
                _(
                    "bank %(name)s versi %(version)s tidak ada di server ini (versi yang ada: %(have)s)",
                    name=repr(bank_name),
                    version=bank_version,
                    have=", ".join(str(v) for v in sorted(versions)) or "-",
                ),
            )
    time = check.get(doc, "time", "", dict) or {}
    total_min = check.get(time, "total_minutes", "time", int, low=1, high=MAX_EXAM_MINUTES)
    late = check.choice(time, "late_login", "time", ("full", "remaining"), "remaining")
    result = check.choice(doc, "result", "", RESULT, "sections")
    pass_total = check.get(doc, "pass_total", "", int, None, low=0, high=MAX_NUMBER)
    sections_doc = check.get(doc, "sections", "", list) or []
    if doc.get("sections") is not None and not sections_doc:
        check.bad("sections", _("beri paling sedikit satu bagian"))
    items = None
    if bank is not None:
        items = _Bank(db.session.execute(db.select(Item).where(Item.bank_id == bank.id)).scalars())
    elif rows is not None:  # ids are positions: the check only needs them to be distinct
        items = _Bank([_RowItem(n, row) for n, row in enumerate(rows, start=1)])
    sections, codes, group_section = [], set(), {}
    for number, sdoc in enumerate(sections_doc, start=1):
        where = f"sections[{number}]"
        if not isinstance(sdoc, dict):
            check.bad(where, _("harus objek"))
            continue
        section = _read_section(check, sdoc, where, items, total_min)
        if section is None:
            continue
        section["position"] = number
        if section["code"] in codes:
            check.bad(
                f"{where}.code", _("kode %(code)s sudah dipakai bagian lain", code=section["code"])
            )
        codes.add(section["code"])
        if items is not None:
            for item in items.active(_tags(section)):
                if item.enemy_group:
                    other = group_section.setdefault(item.enemy_group, section["code"])
                    if other != section["code"]:
                        check.bad(
                            where,
                            _(
                                "kelompok musuh %(group)s ada di bagian %(a)s dan %(b)s: satu "
                                "peserta bisa mendapat keduanya; pindahkan ke satu bagian",
                                group=repr(item.enemy_group),
                                a=other,
                                b=section["code"],
                            ),
                        )
        sections.append(section)
    if check.problems:
        raise FormProblems(check.problems)
    exam = dict(
        name=name,
        bank_id=bank.id if bank is not None else None,
        duration_s=total_min * 60,
        show_result=result != "none",
        result_view="total" if result == "total" else "sections",
        late_login=late,
        pass_total=pass_total,
    )
    return ExamPlan(bank, exam, sections)


def _tags(section: dict) -> list[str]:
    pool = (section.get("selection") or {}).get("pool")
    return pool or [t.strip() for t in section["code"].split(",") if t.strip()]


def _read_section(check: _Check, sdoc: dict, where: str, items: _Bank | None, total_min):
    code = (check.get(sdoc, "code", where, str) or "").strip()
    name = (check.get(sdoc, "name", where, str) or "").strip()
    if not code or not name:
        if sdoc.get("code") is not None and sdoc.get("name") is not None:
            check.bad(where, _("kode dan nama bagian wajib diisi"))
        return None
    if len(code) > 32:
        check.bad(f"{where}.code", _("paling panjang 32 karakter"))
    navigation = check.choice(sdoc, "navigation", where, NAVIGATION)
    pool = check.get(sdoc, "pool", where, list, None)
    if pool is not None and (not pool or not all(isinstance(t, str) and t.strip() for t in pool)):
        check.bad(f"{where}.pool", _("daftar tag soal (teks), paling sedikit satu"))
        pool = None
    tags = pool or [t.strip() for t in code.split(",") if t.strip()]
    shuffle_options = check.get(sdoc, "shuffle_options", where, bool, False)
    scoring = check.get(sdoc, "scoring", where, dict, {})
    points = check.get(scoring, "points_correct", f"{where}.scoring", int, 5, low=0, high=1000)
    weights = check.choice(scoring, "option_weights", f"{where}.scoring", ("bank",), "bank")
    del weights  # option weights always come from the bank's score_a..score_e
    pass_mark = check.get(scoring, "pass_mark", f"{where}.scoring", int, None, 0, MAX_NUMBER)
    minutes = check.get(sdoc, "time_limit_minutes", where, int, None, low=1, high=MAX_EXAM_MINUTES)
    if minutes and total_min and minutes > total_min:
        check.bad(
            f"{where}.time_limit_minutes",
            _(
                "%(minutes)s menit melebihi waktu ujian %(total)s menit",
                minutes=minutes,
                total=total_min,
            ),
        )
    section = dict(
        code=code,
        name=name,
        points_correct=points,
        pass_mark=pass_mark,
        time_limit_min=minutes,
        navigable=navigation == "navigable",
        selection={"pool": pool} if pool else None,
        shuffle_options=bool(shuffle_options),
    )
    available = items.active(tags) if items is not None else None
    if items is not None and not available:
        check.bad(
            f"{where}.pool",
            _("bank tidak punya soal aktif bertag %(tags)s", tags=", ".join(tags)),
        )
        available = None
    if navigation == "adaptive":
        if "selection" in sdoc or sdoc.get("shuffle_items"):
            check.bad(
                where,
                _("bagian adaptif memilih soalnya sendiri: hapus selection dan shuffle_items"),
            )
        section.update(_read_adaptive(check, sdoc, where, available, tags))
        section["engine"] |= _read_pretest(check, sdoc, where, items, tags, section["n_items"])
        return section
    if "adaptive" in sdoc:
        check.bad(
            f"{where}.adaptive",
            _("hanya untuk bagian dengan navigation %(value)s", value='"adaptive"'),
        )
    section["mode"] = "fixed"
    section["shuffle"] = check.get(sdoc, "shuffle_items", where, bool, False)
    section.update(_read_selection(check, sdoc, f"{where}.selection", items, available, tags, pool))
    return section


def _read_selection(check, sdoc, where, items, available, tags, pool) -> dict:
    """n_items and the selection column of a fixed section, checked against the bank."""
    sel = check.get(sdoc, "selection", where.rsplit(".", 1)[0], dict) or {}
    kind = check.choice(sel, "type", where, SELECTION)
    stored = {"pool": pool} if pool else {}
    if kind == "pool":
        n = check.get(sel, "n", where, int, low=1, high=MAX_NUMBER)
        if n and available is not None:
            _enough(check, f"{where}.n", n, available, ", ".join(tags))
        return dict(n_items=n or 1, selection=stored or None)
    if kind == "per_tag":
        counts = check.get(sel, "counts", where, dict) or {}
        if not counts and "counts" in sel:
            check.bad(f"{where}.counts", _("paling sedikit satu tag"))
        clean = {}
        for tag, n in counts.items():
            n = check.get(counts, tag, f"{where}.counts", int, low=1, high=MAX_NUMBER)
            if n is None:
                continue
            clean[tag] = n
            if tag not in tags:
                check.bad(
                    f"{where}.counts.{tag}",
                    _("tag ini tidak ada di pool bagian (%(tags)s)", tags=", ".join(tags)),
                )
            elif available is not None:
                tagged = [i for i in available if i.section == tag]
                _enough(check, f"{where}.counts.{tag}", n, tagged, tag)
        if available is not None:
            spread: dict[str, set] = {}
            for item in available:
                if item.enemy_group and item.section in clean:
                    spread.setdefault(item.enemy_group, set()).add(item.section)
            for group, where_tags in sorted(spread.items()):
                if len(where_tags) > 1:
                    check.bad(
                        f"{where}.counts",
                        _(
                            "kelompok musuh %(group)s ada di beberapa tag (%(tags)s): jumlah per tag "
                            "tidak terjamin; satukan kelompok itu dalam satu tag",
                            group=repr(group),
                            tags=", ".join(sorted(where_tags)),
                        ),
                    )
        return dict(
            n_items=sum(clean.values()) or 1,
            selection=stored | {"type": "per_tag", "counts": clean},
        )
    if kind == "items":
        ids = _item_list(check, sel.get("items"), f"{where}.items", items)
        return dict(n_items=len(ids) or 1, selection=stored | {"type": "items", "items": ids})
    if kind == "forms":
        forms = check.get(sel, "forms", where, list) or []
        if len(forms) < 2 and "forms" in sel:
            check.bad(f"{where}.forms", _("paling sedikit dua formulir paralel"))
        ids = [
            _item_list(check, f, f"{where}.forms[{k}]", items) for k, f in enumerate(forms, start=1)
        ]
        lengths = {len(f) for f in ids}
        if len(lengths) > 1:
            check.bad(
                f"{where}.forms",
                _(
                    "setiap formulir harus sama panjang (sekarang: %(n)s)",
                    n=", ".join(str(len(f)) for f in ids),
                ),
            )
        return dict(
            n_items=min(lengths, default=1) or 1, selection=stored | {"type": "forms", "forms": ids}
        )
    return dict(n_items=1)


def _enough(check, where, n, available, tags) -> None:
    if len(available) < n:
        check.bad(
            where,
            _(
                "%(n)s soal diminta, bank hanya punya %(have)s soal aktif bertag %(tags)s",
                n=n,
                have=len(available),
                tags=tags,
            ),
        )
    elif fit(available) < n:
        check.bad(
            where,
            _(
                "%(n)s soal diminta, tetapi hanya %(fit)s dari %(have)s soal aktif bertag %(tags)s "
                "bisa bersama dalam satu ujian (satu soal per kelompok musuh)",
                n=n,
                fit=fit(available),
                have=len(available),
                tags=tags,
            ),
        )


def _item_list(check, codes, where, items) -> list[int]:
    """Item codes → ids: each in the bank, active, once, one per enemy group."""
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        check.bad(where, _("daftar kode soal (item_id), paling sedikit satu"))
        return []
    if items is None:
        return []
    ids, groups = [], {}
    for code in codes:
        item = items.by_code.get(code)
        if item is None:
            check.bad(where, _("soal %(code)s tidak ada di bank", code=repr(code)))
        elif item.status != "active":
            check.bad(
                where,
                _(
                    "soal %(code)s berstatus %(status)s, bukan aktif",
                    code=repr(code),
                    status=item.status,
                ),
            )
        elif item.id in ids:
            check.bad(where, _("soal %(code)s disebut dua kali", code=repr(code)))
        else:
            if item.enemy_group:
                if item.enemy_group in groups:
                    check.bad(
                        where,
                        _(
                            "soal %(a)s dan %(b)s satu kelompok musuh",
                            a=repr(groups[item.enemy_group]),
                            b=repr(code),
                        ),
                    )
                groups[item.enemy_group] = code
            ids.append(item.id)
    return ids


def _read_adaptive(check, sdoc, where, available, tags) -> dict:
    """The adaptive section's columns: stopping, exposure, content, engine settings."""
    where = f"{where}.adaptive"
    ad = check.get(sdoc, "adaptive", where.rsplit(".", 1)[0], dict) or {}
    start = check.get(ad, "start_theta", where, float, 0.0, low=-4.0, high=4.0)
    check.choice(ad, "estimator", where, ("eap",), "eap")
    rule = check.choice(ad, "selection", where, RULES, "mfi")
    check.choice(ad, "score", where, ("scaled",), "scaled")
    check.choice(ad, "enemy_groups", where, ("bank",), "bank")
    exposure = check.get(ad, "exposure", where, dict, {"method": "randomesque", "k": 5})
    method = check.choice(
        exposure, "method", f"{where}.exposure", ("none", "randomesque", "sympson-hetter", "cap")
    )
    k, r_max = 1, None
    if method == "randomesque":
        k = check.get(exposure, "k", f"{where}.exposure", int, low=2, high=50) or 1
    elif method == "sympson-hetter":
        r_max = check.get(exposure, "r_max", f"{where}.exposure", float, low=0.01, high=1.0)
    elif method == "cap":
        check.bad(
            f"{where}.exposure.method",
            _(
                "belum didukung oleh server: %(method)s (gunakan randomesque, "
                "sympson-hetter atau none)",
                method=method,
            ),
        )
    stop = check.get(ad, "stopping", where, dict) or {}
    swhere = f"{where}.stopping"
    low = check.get(stop, "min_items", swhere, int, 0, low=0, high=MAX_NUMBER)
    high = check.get(stop, "max_items", swhere, int, low=1, high=MAX_NUMBER)
    se = check.get(stop, "se_target", swhere, float, None, low=0.01, high=5.0)
    cls = check.get(stop, "classification", swhere, dict, None)
    classification = None
    if cls is not None:
        cmethod = check.choice(cls, "method", f"{swhere}.classification", ("sprt", "ci"))
        cut = check.get(cls, "cut", f"{swhere}.classification", float, low=-4.0, high=4.0)
        if cmethod and cut is not None:
            classification = {"method": cmethod, "cut": cut}
    if low is not None and high is not None and low > high:
        check.bad(f"{swhere}.min_items", _("tidak boleh melebihi max_items (%(n)s)", n=high))
    if available is not None and high:
        uncalibrated = [
            i.code
            for i in available
            if i.model in ("grm", "gpcm")
            and not i.thresholds
            or i.model not in ("grm", "gpcm")
            and i.b is None
        ]
        if uncalibrated:
            check.bad(
                where,
                _("soal belum terkalibrasi di pool: %(codes)s", codes=", ".join(uncalibrated[:10])),
            )
        _enough(check, f"{swhere}.max_items", high, available, ", ".join(tags))
    content = _read_content(check, ad, where, available, tags, high)
    engine = {"start_theta": start, "selection": rule}
    if r_max is not None:  # its parameters are computed when the exam is saved
        engine |= {"exposure": "sympson-hetter", "r_max": r_max}
    if classification:
        engine["classification"] = classification
    return dict(
        mode="adaptive",
        navigable=False,
        shuffle=False,
        n_items=high or 1,
        min_items=low,
        se_target=se,
        randomesque_k=k,
        content=content,
        engine=engine,
    )


MAX_PRETEST = 20
MAX_PRETEST_RATE = 0.5


def _read_pretest(check, sdoc, where, items, tags, n_items) -> dict:
    """``adaptive.pretest``: ``{"items": n}`` pretest items of the pool seeded into each
    attempt, or ``{"rate": r}``: about that share of each attempt's items are pretest."""
    where = f"{where}.adaptive"
    pretest = check.get(sdoc.get("adaptive"), "pretest", where, dict, None)
    if pretest is None:
        return {}
    if "items" in pretest and "rate" in pretest:
        check.bad(f"{where}.pretest", _("isi items atau rate, tidak keduanya"))
        return {}
    rate = check.get(
        pretest, "rate", f"{where}.pretest", float, 0.0, low=0.0, high=MAX_PRETEST_RATE
    )
    if rate:
        n = pretest_cap(n_items or 1, rate)
        field, settings = f"{where}.pretest.rate", {"pretest_rate": rate}
    else:
        n = check.get(pretest, "items", f"{where}.pretest", int, 0, low=0, high=MAX_PRETEST)
        field, settings = f"{where}.pretest.items", {"pretest": n}
    if not n:
        return {}
    if items is not None:
        have = len(items.pretest(tags))
        if have < n:
            check.bad(
                field,
                _(
                    "%(n)s soal uji coba diminta per peserta, bank hanya punya %(have)s soal "
                    "berstatus pretest bertag %(tags)s",
                    n=n,
                    have=have,
                    tags=", ".join(tags),
                ),
            )
    return settings


def _read_content(check, ad, where, available, tags, max_items):
    """Content targets: {tag: [min, max]} counts or {tag: proportion}, each reachable."""
    content = check.get(ad, "content", where, dict, None)
    if not content:
        return None
    where = f"{where}.content"
    counts = all(isinstance(v, list) for v in content.values())
    shares = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in content.values())
    if not counts and not shares:
        check.bad(where, _("semua target berupa [min, max] atau semua berupa proporsi 0..1"))
        return None
    clean = {}
    for tag, value in content.items():
        have = len([i for i in available if i.section == tag]) if available is not None else None
        if tag not in tags:
            check.bad(
                f"{where}.{tag}",
                _("tag ini tidak ada di pool bagian (%(tags)s)", tags=", ".join(tags)),
            )
            continue
        if counts:
            if (
                len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or not 0 <= value[0] <= value[1]
            ):
                check.bad(
                    f"{where}.{tag}", _("harus [min, max], bilangan bulat dengan 0 <= min <= max")
                )
                continue
            need = value[0]
        else:
            if not 0 < value <= 1:
                check.bad(f"{where}.{tag}", _("proporsi harus di antara 0 dan 1"))
                continue
            need = math.ceil(value * (max_items or 0))
        if have is not None and have < need:
            check.bad(
                f"{where}.{tag}",
                _(
                    "target butuh %(n)s soal, bank punya %(have)s soal aktif bertag %(tag)s",
                    n=need,
                    have=have,
                    tag=tag,
                ),
            )
        clean[tag] = list(value) if counts else float(value)
    if counts and max_items and sum(v[0] for v in clean.values()) > max_items:
        check.bad(
            where,
            _(
                "jumlah minimum target (%(n)s) melebihi max_items (%(max)s)",
                n=sum(v[0] for v in clean.values()),
                max=max_items,
            ),
        )
    if (
        counts
        and max_items
        and clean
        and len(clean) == len(tags)
        and sum(v[1] for v in clean.values()) < max_items
    ):
        pass  # the engine stops early when no tag may take more: allowed, like a max length
    if shares and clean and abs(sum(clean.values()) - 1.0) > 0.01:
        check.bad(
            where,
            _("jumlah proporsi harus 1 (sekarang %(total)s)", total=round(sum(clean.values()), 3)),
        )
    return clean
