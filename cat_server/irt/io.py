r"""CSV formats of the engine CLI: wide responses, item banks, parameter files.

Every reader validates the whole file first and raises :class:`InputError`
naming the row (1-based file line, header = row 1) and the column of the first
problem; nothing is returned half-read.

Responses (``calibrate``)
    optional first column ``person_id``, then one column per item (header =
    item id); cells ``0``/``1`` or the category score, empty = not presented.
Bank (``simulate``)
    columns ``item_id, section, model, a, b, c, d`` or ``b1..bk`` for
    GRM/GPCM; optional ``status``, ``enemy_group``; other columns (stem,
    options, key, media …) are ignored.
Parameters (``calibrate --out``)
    ``item_id, model, a, b, c, d`` (dichotomous) or ``item_id, model, a,
    b1..bk`` (polytomous), then ``se_*`` columns and ``infit, outfit``.
"""

from __future__ import annotations

import csv
import functools
import io as _io
import math
import os
import tempfile
from itertools import chain

import numpy as np

from .models import MODEL_CODES, make_items

# Each problem's code and its English sentence (the CLI's). A caller that speaks another
# language words the code and its values itself (the admin's calibration page:
# admin/file_problems.py); the codes and value names stay as they are.
MESSAGES = {
    "not_utf8": "the file is not UTF-8 text",
    "empty_file": "the file is empty",
    "unreadable_csv": "the CSV cannot be read: %(detail)s",
    "cell_too_long": "the CSV cannot be read: field larger than field limit (%(expected)s)",
    "blank_header": "the first line must be the header; it is blank",
    "empty_column_name": "empty column name",
    "duplicate_column": "duplicate item id %(value)r (also column %(other)s)",
    "no_item_columns": "no item columns",
    "no_response_rows": "no response rows (only a header)",
    "cell_count": "%(value)s cells for %(expected)s columns",
    "not_a_number": "%(value)r is not a number",
    "not_whole": "%(value)r is not a whole-number score",
    "score_out_of_range": "score %(value)s is out of range (allowed %(expected)s)",
    "no_responses": "no responses in this item column",
    "constant_column": (
        "constant column: every response is %(value)s, so the item cannot be calibrated"
    ),
    "value_required": "a value is required",
    "not_finite": "%(value)r is not a finite number",
    "missing_column": "missing column %(value)r",
    "no_items": "no items (only a header)",
    "empty_item_id": "empty item_id",
    "duplicate_item": "duplicate item id %(value)r (first on row %(other)s)",
    "unknown_model": "unknown model %(value)r",
    "a_not_positive": "a must be > 0",
    "no_thresholds": "a polytomous item needs b1..bk",
    "grm_order": "GRM thresholds must increase",
    "c_d_range": "need 0 <= c < d <= 1",
    "unknown_status": "unknown status %(value)r",
    "no_theta_lines": "the file is empty: expected one theta a line",
    "no_theta_column": (
        "the header %(value)r has no 'theta' column "
        "(expected one theta a line, or a header with a theta column)"
    ),
    "several_values": (
        "%(value)s values on one line; give one theta a line, or a header naming the 'theta' column"
    ),
    "no_theta_value": "no value in column %(expected)s ('theta')",
    "no_thetas": "no thetas after the header",
}


class InputError(ValueError):
    """Bad input file; ``str()`` names the file row and column, in English (the CLI's).

    For a caller that words it in its own language: ``code`` (a key of MESSAGES) and
    ``params`` (``value``: what the file holds; ``expected``: what was expected, where the
    sentence names it), ``row`` (a number, or ``"2-9"``: the whole column), ``column``
    (``"3 ('I2')"``: number and header), ``unit`` ("row", or "line" in a file without a
    header row), ``file`` (the path read, set by the reader).
    """

    def __init__(self, code, row=None, column=None, line=None, **params):
        self.code, self.params = code, params
        text = MESSAGES.get(code, code)  # a sentence of no code yet: its own words, in English
        self.message = text % params if params else text
        where = []
        if line is not None:  # files with no header row: the plain file line
            where.append(f"line {line}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {self.message}" if where else self.message)
        self.row = row if line is None else line
        self.unit = "row" if line is None else "line"
        self.column = column
        self.file = None


def _names_the_file(reader):
    """``reader(path, ...)``, its InputError naming ``path`` (``file``)."""

    @functools.wraps(reader)
    def read(path, *args, **kwargs):
        try:
            return reader(path, *args, **kwargs)
        except InputError as error:
            if error.file is None:
                error.file = os.fspath(path)
            raise

    return read


def _open_rows(path):
    """The stripped header and an iterator of ``(row, cells)`` over the non-blank rows.

    ``row`` is the 1-based record number (header = row 1). A CSV error (e.g. a
    cell longer than the csv module's field limit) raises :class:`InputError`
    when the iterator reaches it.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise InputError("not_utf8") from None
    if not text.strip():
        raise InputError("empty_file")
    reader = csv.reader(_io.StringIO(text))

    def records():
        try:
            yield from reader
        except csv.Error as e:
            if "field limit" in str(e):  # a cell longer than the csv module's field limit
                limit = csv.field_size_limit()
                raise InputError("cell_too_long", row=reader.line_num, expected=limit) from None
            raise InputError("unreadable_csv", row=reader.line_num, detail=str(e)) from None

    rows = records()
    header = [h.strip() for h in next(rows, [])]
    if not any(header):
        raise InputError("blank_header", row=1)

    def body():
        for n, r in enumerate(rows, start=2):
            if any(c.strip() for c in r):
                yield n, r

    return header, body()


def _read_rows(path):
    header, body = _open_rows(path)
    return header, list(body)


def _check_header(header):
    seen = {}
    for i, h in enumerate(header):
        col = f"{i + 1} ({h!r})" if h else str(i + 1)
        if not h:
            raise InputError("empty_column_name", row=1, column=col)
        if h in seen:
            raise InputError("duplicate_column", row=1, column=col, value=h, other=seen[h] + 1)
        seen[h] = i


@_names_the_file
def read_responses(path, model="2pl", max_score=None):
    r"""Read a wide response CSV.

    Parameters
    ----------
    path : str or path-like
    model : str
        ``1pl``/``2pl``/``3pl``/``4pl`` require 0/1; ``grm``/``gpcm`` integers >= 0.
    max_score : int, optional
        Highest allowed category score (polytomous).

    Returns
    -------
    person_id : list of str
    item_id : list of str
    responses : ndarray of int, shape (n_persons, n_items)
        ``-1`` where empty.

    Raises
    ------
    InputError
        Empty file, duplicate item id, ragged row, non-numeric cell,
        out-of-range score, an item column with no variance.
    """
    header, body = _open_rows(path)
    _check_header(header)
    has_pid = header[0].lower() in ("person_id", "person", "id")
    first = 1 if has_pid else 0
    item_id = header[first:]
    if not item_id:
        raise InputError("no_item_columns", row=1)
    dich = model in ("1pl", "2pl", "3pl", "4pl", "rasch")
    hi = 1 if dich else max_score
    width, n_items = len(header), len(item_id)
    lines, pids, ragged = [], [], []

    def item_cells():  # the rows' item cells, up to the first ragged row
        for line, row in body:
            if len(row) != width:
                ragged.append((line, len(row)))
                return
            lines.append(line)
            if has_pid:
                pids.append(row[0].strip())
                row = row[first:]
            yield row

    # every distinct cell text is checked once; a cell is then one C-level dict look-up
    scores = _Scores(hi, "0 or 1" if dich else f"0..{hi}" if hi is not None else ">= 0")
    x = np.fromiter(
        map(scores.__getitem__, chain.from_iterable(item_cells())), dtype=np.int64
    ).reshape(-1, n_items)
    bad = np.flatnonzero(x.ravel() < -1)
    if bad.size:
        r, j = divmod(int(bad[0]), n_items)
        code, params = scores.problems[-2 - int(x[r, j])]
        raise InputError(code, row=lines[r], column=f"{j + first + 1} ({item_id[j]!r})", **params)
    if ragged:
        line, n = ragged[0]
        raise InputError("cell_count", row=line, value=n, expected=width)
    if not lines:
        raise InputError("no_response_rows", row=2)
    seen = x >= 0
    n_obs = seen.sum(axis=0)
    low = np.where(seen, x, np.iinfo(np.int64).max).min(axis=0)
    flat = (n_obs == 0) | (low == x.max(axis=0))
    if flat.any():
        j = int(np.argmax(flat))
        col = f"{j + first + 1} ({item_id[j]!r})"
        rows = f"2-{lines[-1]}"
        if n_obs[j] == 0:
            raise InputError("no_responses", row=rows, column=col)
        raise InputError("constant_column", row=rows, column=col, value=int(low[j]))
    if not has_pid:
        pids = [str(r + 1) for r in range(len(lines))]
    return pids, item_id, x


class _Scores(dict):
    """Cell text -> score (``-1`` empty); a bad cell maps to ``-2 - k``, ``problems[k]`` says why
    (an InputError code and its values)."""

    def __init__(self, hi, allowed):
        super().__init__()
        self.hi, self.allowed, self.problems = hi, allowed, []

    def __missing__(self, text):
        self[text] = value = self._score(text.strip())
        return value

    def _score(self, cell):
        if not cell:
            return -1
        try:
            v = float(cell)
        except ValueError:
            return self._problem("not_a_number", value=cell)
        if not math.isfinite(v) or v != int(v):
            return self._problem("not_whole", value=cell)
        v = int(v)
        if v < 0 or (self.hi is not None and v > self.hi):
            return self._problem("score_out_of_range", value=v, expected=self.allowed)
        return v

    def _problem(self, code, **params):
        self.problems.append((code, params))
        return -1 - len(self.problems)


def _num(cell, line, col, default=None):
    cell = (cell or "").strip()
    if not cell:
        if default is None:
            raise InputError("value_required", row=line, column=col)
        return default
    try:
        v = float(cell)
    except ValueError:
        raise InputError("not_a_number", row=line, column=col, value=cell) from None
    if not math.isfinite(v):
        raise InputError("not_finite", row=line, column=col, value=cell)
    return v


@_names_the_file
def read_bank(path):
    r"""Read an item-bank CSV into keyword arguments of :func:`prepare_bank`.

    Returns
    -------
    dict
        ``model, a, b, c, d, thresholds, item_id, section, status,
        enemy_group`` (arrays).

    Raises
    ------
    InputError
        Empty file, missing ``item_id``/``model`` column, duplicate item id,
        unknown model, non-numeric or invalid parameter.
    """
    header, body = _read_rows(path)
    low = [h.lower() for h in header]
    for need in ("item_id", "model"):
        if need not in low:
            raise InputError("missing_column", row=1, value=need)
    if not body:
        raise InputError("no_items", row=2)
    pos = {h: i for i, h in enumerate(low)}
    bcols = sorted((h for h in low if h[:1] == "b" and h[1:].isdigit()), key=lambda h: int(h[1:]))
    out = {
        k: [] for k in ("item_id", "model", "a", "b", "c", "d", "section", "status", "enemy_group")
    }
    thr = []
    seen = {}

    def cell(row, name):
        i = pos.get(name)
        return row[i] if i is not None and i < len(row) else ""

    def colname(name):
        return f"{pos[name] + 1} ({name!r})" if name in pos else repr(name)

    for line, row in body:
        iid = cell(row, "item_id").strip()
        if not iid:
            raise InputError("empty_item_id", row=line, column=colname("item_id"))
        if iid in seen:
            raise InputError(
                "duplicate_item", row=line, column=colname("item_id"), value=iid, other=seen[iid]
            )
        seen[iid] = line
        model = cell(row, "model").strip().lower()
        if model not in MODEL_CODES:
            raise InputError("unknown_model", row=line, column=colname("model"), value=model)
        a = _num(cell(row, "a"), line, colname("a"), 1.0 if model in ("1pl", "rasch") else None)
        if a <= 0:
            raise InputError("a_not_positive", row=line, column=colname("a"))
        poly = MODEL_CODES[model] != 0
        if poly:
            ks = [_num(cell(row, h), line, colname(h), np.nan) for h in bcols]
            vals = [v for v in ks if not np.isnan(v)]
            if not vals:
                raise InputError("no_thresholds", row=line, column=colname("b1"))
            if model == "grm" and any(y <= x for x, y in zip(vals, vals[1:], strict=False)):
                raise InputError("grm_order", row=line, column=colname("b1"))
            thr.append(vals)
            b, c, d = 0.0, 0.0, 1.0
        else:
            b = _num(cell(row, "b"), line, colname("b"))
            c = _num(cell(row, "c"), line, colname("c"), 0.0)
            d = _num(cell(row, "d"), line, colname("d"), 1.0)
            if not (0 <= c < d <= 1):
                raise InputError("c_d_range", row=line, column=colname("c"))
            thr.append([])
        status = cell(row, "status").strip().lower() or "active"
        if status not in ("active", "operational", "pretest", "retired"):
            raise InputError("unknown_status", row=line, column=colname("status"), value=status)
        for k, v in (
            ("item_id", iid),
            ("model", model),
            ("a", a),
            ("b", b),
            ("c", c),
            ("d", d),
            ("section", cell(row, "section").strip()),
            ("status", status),
            ("enemy_group", cell(row, "enemy_group").strip()),
        ):
            out[k].append(v)
    m = max((len(t) for t in thr), default=0)
    thresholds = np.full((len(thr), max(m, 1)), np.nan)
    for i, t in enumerate(thr):
        thresholds[i, : len(t)] = t
    res = {k: np.asarray(v, dtype=float if k in "abcd" else object) for k, v in out.items()}
    res["thresholds"] = thresholds
    return res


@_names_the_file
def read_thetas(path):
    r"""Read true abilities for ``simulate --thetas``: one number a line.

    The first line may be a header. A file of several comma-separated columns
    (e.g. ``person_id,theta``) needs a header with a ``theta`` column. Blank
    lines are skipped. Errors name the file line: ``line 7: 'abc' is not a
    number``.

    Returns
    -------
    ndarray of shape (n_examinees,)
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise InputError("not_utf8") from None
    try:
        rows = [(i + 1, r) for i, r in enumerate(csv.reader(_io.StringIO(text)))]
    except csv.Error as e:
        raise InputError("unreadable_csv", detail=str(e)) from None
    rows = [(line, [c.strip() for c in r]) for line, r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError("no_theta_lines")
    col = 0
    first_line, first = rows[0]
    try:
        [float(c) for c in first]
        header = False
    except ValueError:
        header = True
    if header:
        names = [c.lower() for c in first]
        if len(first) > 1 or names[0] not in ("theta", "thetas", "ability"):
            if "theta" not in names:
                raise InputError("no_theta_column", line=first_line, value=",".join(first))
            col = names.index("theta")
        rows = rows[1:]
    elif len(first) > 1:
        raise InputError("several_values", line=first_line, value=len(first))
    out = np.empty(len(rows))
    for k, (line, r) in enumerate(rows):
        if len(r) <= col:
            raise InputError("no_theta_value", line=line, expected=col + 1)
        cell = r[col]
        where = None if len(r) == 1 else f"{col + 1} ('theta')"
        try:
            v = float(cell)
        except ValueError:
            raise InputError("not_a_number", line=line, column=where, value=cell) from None
        if not math.isfinite(v):
            raise InputError("not_finite", line=line, column=where, value=cell)
        out[k] = v
    if not out.size:
        raise InputError("no_thetas")
    return out


@_names_the_file
def relink_csv(path, A, B):
    r"""The text of a bank/params CSV with its parameters moved by a linking.

    ``a`` and ``se_a`` are divided by :math:`A`; ``b``, ``b1..bk`` become
    :math:`A b + B` and their ``se_*`` columns are multiplied by :math:`A`;
    every other column and every row are kept as they are. Validate the file
    with :func:`read_bank` first.
    """
    header, body = _read_rows(path)
    low = [h.lower() for h in header]

    def kind(h):
        if h == "a":
            return "a"
        if h == "se_a":
            return "se_a"
        if h == "b" or (h[:1] == "b" and h[1:].isdigit()):
            return "b"
        if h == "se_b" or (h[:4] == "se_b" and h[4:].isdigit()):
            return "se_b"
        return None

    cols = [(i, kind(h)) for i, h in enumerate(low) if kind(h)]
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for line, row in body:
        row = list(row)
        for i, k in cols:
            if i >= len(row) or not row[i].strip():
                continue
            v = _num(row[i], line, f"{i + 1} ({header[i]!r})")
            v = {"a": v / A, "se_a": v / A, "b": A * v + B, "se_b": A * v}[k]
            row[i] = f"{v:.10g}"
        w.writerow(row)
    return buf.getvalue()


def items_from_bank_dict(data, D=1.0):
    """:class:`Items` from :func:`read_bank` output."""
    return make_items(
        data["a"], data["b"], data["c"], data["d"],
        model=data["model"], thresholds=data["thresholds"], D=D,
    )  # fmt: skip


def write_atomic(path, text):
    """Write ``text`` to ``path`` via a temporary file and rename (no partial file)."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def format_params(item_id, result):
    r"""CSV text of a :class:`~cat_server.irt.calibration.CalibrationResult`.

    Dichotomous: ``item_id, model, a, b, c, d, se_a, se_b, se_c, infit,
    outfit, s_x2, s_x2_df, s_x2_p`` (the 4PL adds ``se_d`` after ``se_c``); polytomous: ``item_id, model, a,
    b1..bk, se_a, se_b1..se_bk, infit, outfit``. Empty cells for NaN (unused
    categories, fixed anchors' SEs, S-X2 without complete response rows).
    """
    it, se = result.items, result.se
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")

    def f(v):
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.6g}"

    if result.model in ("1pl", "2pl", "3pl", "4pl"):
        four = result.model == "4pl"
        w.writerow(
            ["item_id", "model", "a", "b", "c", "d", "se_a", "se_b", "se_c"]
            + (["se_d"] if four else [])
            + ["infit", "outfit", "s_x2", "s_x2_df", "s_x2_p"]
        )
        nan = np.full(len(item_id), np.nan)
        sx2 = [result.fit.get(k, nan) for k in ("s_x2", "s_x2_df", "s_x2_p")]
        for j, iid in enumerate(item_id):
            se_c = se["c"][j] if "c" in se else (0.0 if se else None)
            w.writerow(
                [iid, result.model]
                + [f(float(v)) for v in (it.a[j], it.b[j], it.c[j], it.d[j])]
                + [f(float(se["a"][j])) if se else "", f(float(se["b"][j])) if se else "", f(se_c)]
                + ([f(float(se["d"][j])) if se else ""] if four else [])
                + [f(float(result.fit["infit"][j])), f(float(result.fit["outfit"][j]))]
                + [f(float(v[j])) for v in sx2]
            )
    else:
        m = it.thresholds.shape[1]
        w.writerow(
            ["item_id", "model", "a"]
            + [f"b{k + 1}" for k in range(m)]
            + ["se_a"]
            + [f"se_b{k + 1}" for k in range(m)]
            + ["infit", "outfit"]
        )
        for j, iid in enumerate(item_id):
            w.writerow(
                [iid, result.model, f(float(it.a[j]))]
                + [f(float(v)) for v in it.thresholds[j]]
                + [f(float(se["a"][j])) if se else ""]
                + [f(float(v)) if se else "" for v in (se["b"][j] if se else [None] * m)]
                + [f(float(result.fit["infit"][j])), f(float(result.fit["outfit"][j]))]
            )
    return buf.getvalue()
