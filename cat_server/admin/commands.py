"""``cat-server`` commands for administrators: candidates, score exports, chain checks."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


@click.command("import-candidates")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--pins-out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write registration_no,name,sitting,seat,pin here (default: standard output).",
)
@with_appcontext
def import_candidates_command(path, pins_out):
    """Validate and enrol a candidates CSV (registration_no,name,birth_date,sitting,seat).

    All rows or none; errors name file, row and column (exit code 2). Each new
    candidate gets a PIN, printed once as CSV for the slips.
    """
    import os

    from ..itembank.formats import BankFormatError
    from .candidates import import_candidates, write_pins_csv

    with open(path, "rb") as f:
        data = f.read()
    try:
        created = import_candidates(data, os.path.basename(path), actor="cli")
    except BankFormatError as error:
        click.echo(str(error), err=True)
        click.echo("Nothing was imported.", err=True)
        sys.exit(2)
    if pins_out:
        with open(pins_out, "w", encoding="utf-8", newline="") as out:
            write_pins_csv(created, out)
    else:
        write_pins_csv(created, sys.stdout)
    click.echo(f"Imported {len(created)} candidates.", err=True)


@click.command("export-scores")
@click.option("--sitting", "sitting_id", type=int, help="Sitting id.")
@click.option(
    "--from",
    "date_from",
    help="First day, YYYY-MM-DD, a day in the centre's zone (CAT_TIMEZONE; WIB by default).",
)
@click.option("--to", "date_to", help="Last day, YYYY-MM-DD, in the centre's zone, included.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True
)
@click.option("--responses", is_flag=True, help="Wide responses for calibration instead.")
@click.option(
    "--response-log",
    is_flag=True,
    help="Every stored response in the order written, with its chain hashes, instead.",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def export_scores_command(sitting_id, date_from, date_to, fmt, responses, response_log, output):
    """Scores of a sitting or a date range, one row an attempt (docs/formats.md).

    Days are the centre's (CAT_TIMEZONE): --from 2026-12-06 starts at midnight
    of that day in the centre's zone, 2026-12-06 00:00 WIB in Jakarta.
    """
    from .. import spreadsheet
    from ..localtime import parse_local
    from . import score_sheet, scores

    def day(text, name, end_of_day=False):
        when = parse_local(text, end_of_day=end_of_day) if len(text) == 10 else None
        if when is None:
            raise click.BadParameter(f"expected YYYY-MM-DD, got {text!r}", param_hint=name)
        return when

    start = day(date_from, "--from") if date_from else None
    end = day(date_to, "--to", end_of_day=True) if date_to else None
    if sitting_id is None and start is None and end is None:
        raise click.UsageError("give --sitting or --from/--to")
    attempts = scores.select_attempts(sitting_id, start, end)
    if response_log:
        header, rows = scores.response_log(attempts)
        with open(output, "wb") as f:
            f.write(spreadsheet.csv_bytes(header, rows))
    elif responses:
        header, rows = scores.wide_responses(attempts)
        with open(output, "wb") as f:
            f.write(spreadsheet.csv_bytes(header, rows, bom=False))
    else:
        header, rows = scores.score_rows(attempts)
        if fmt == "csv":
            data = scores.to_csv(header, rows)
        else:
            data = score_sheet.workbook(attempts, header, rows)
        with open(output, "wb") as f:
            f.write(data)
    click.echo(f"Wrote {len(rows)} rows to {output}.")


@click.command("verify")
@click.option(
    "--export",
    "export_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Also check a score export (CSV or XLSX): every row signed by this chain key, "
    "and each attempt's chain still the one exported.",
)
@with_appcontext
def verify_command(export_path):
    """Recompute every attempt's keyed response chain and every finished attempt's scores.

    Names any altered row, and any stored score, total, pass/fail or theta that
    is not the one recomputed from the chain (exit code 1).
    """
    import os

    from flask import current_app

    from ..exam.chain import key_source
    from .chains import legacy_until, verify_chains, verify_scores
    from .scores import check_export

    click.echo(f"Chain key: {key_source()}")
    if export_path:
        with open(export_path, "rb") as f:
            n_rows, changed = check_export(f.read(), os.path.basename(export_path))
        for problem in changed:
            click.echo(problem, err=True)
        if changed:
            click.echo(f"TAMPERED: {len(changed)} problems in {n_rows} export rows.", err=True)
            sys.exit(1)
        click.echo(
            f"OK: {n_rows} export rows signed by this key; their chains, scores, pass/fail "
            "and status match the database, whose scores are those recomputed from the chains."
        )
        return
    unkeyed, unbound = legacy_until()
    if unkeyed:
        click.echo(f"Attempts up to id {unkeyed} may carry the old unkeyed chain.")
    if unbound:
        click.echo(
            f"Attempts up to id {unbound} may carry a chain that does not name its candidate."
        )
    n_attempts, n_responses, problems = verify_chains()
    n_scored, wrong, unchecked = verify_scores()
    if unchecked:
        click.echo(
            f"{len(unchecked)} adaptive sections of attempts up to id "
            f"{current_app.config['SCORES_UNKEPT_UNTIL']} have no kept item parameters: "
            "their scores are taken as stored."
        )
    problems = sorted(problems + wrong, key=lambda p: p.attempt_id)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(
            f"TAMPERED: {len(problems)} problems in {n_attempts} attempts "
            f"({n_responses} responses).",
            err=True,
        )
        if n_attempts > 1 and len({p.attempt_id for p in problems}) == n_attempts:
            click.echo(
                "Every attempt is named: check first that this is the chain key of the "
                "server that wrote them (compare the key id above).",
                err=True,
            )
        sys.exit(1)
    click.echo(
        f"OK: {n_attempts} attempts, {n_responses} responses; every chain is intact, and the "
        f"scores of the {n_scored} finished attempts are those recomputed from their chains."
    )


COMMANDS = (import_candidates_command, export_scores_command, verify_command)


@click.command("calibrate-bank")
@click.argument("bank_id", type=int)
@click.option(
    "--model",
    type=click.Choice(["1pl", "2pl", "3pl", "grm", "gpcm"]),
    default="2pl",
    show_default=True,
)
@click.option(
    "--responses",
    type=click.Path(exists=True, dir_okay=False),
    help="Wide responses CSV (default: the responses collected in live exams).",
)
@click.option(
    "--no-a-prior",
    is_flag=True,
    help="No lognormal prior on a (default: log a ~ N(0, 0.5), as BILOG-MG and mirt).",
)
@click.option("--accept", is_flag=True, help="Write the new parameters and activate the items.")
@with_appcontext
def calibrate_bank_command(bank_id, model, responses, no_a_prior, accept):
    """Calibrate a bank version's pretest items with its active items as anchors.

    Prints old and new parameters side by side; with --accept the items get the
    new parameters and become active (one transaction). Exit 2 on bad input.
    """
    import os

    from . import calibration
    from .sittings import FormProblems

    data = open(responses, "rb").read() if responses else None  # noqa: SIM115
    try:
        proposal = calibration.run_calibration(
            bank_id,
            model,
            "cli",
            upload=data,
            filename=os.path.basename(responses) if responses else "responses.csv",
            a_prior=None if no_a_prior else calibration.PRETEST_A_PRIOR,
        )
    except FormProblems as error:
        for field, message in error.problems:
            click.echo(f"{field}: {message}", err=True)
        sys.exit(2)

    def show(p):
        text = f"a={p['a']:.3f}"
        if p["b"] is not None:
            text += f" b={p['b']:.3f}"
        if p["c"]:
            text += f" c={p['c']:.3f}"
        if p.get("d") is not None and p["d"] < 1:
            text += f" d={p['d']:.3f}"
        if p["thresholds"]:
            text += " b_k=" + "/".join(f"{t:.3f}" for t in p["thresholds"])
        return text

    click.echo(
        f"{proposal['n_persons']} persons, {proposal['n_anchors']} anchors, "
        f"{'converged' if proposal['converged'] else 'NOT converged'} "
        f"after {proposal['n_iter']} iterations; run {proposal['token']}"
    )
    if "aic" in proposal:
        click.echo(
            f"log-likelihood {proposal['log_likelihood']}, AIC {proposal['aic']}, "
            f"BIC {proposal['bic']} ({proposal['n_parameters']} parameters)"
        )
    for row in proposal["items"]:
        click.echo(
            f"{row['code']:12} n={row['n']:<6} old {show(row['old']):40} "
            f"new {show(row['new'])}  infit={row['infit']} outfit={row['outfit']}"
            + (
                f" S-X2={row['s_x2']} df={row['s_x2_df']:g} p={row['s_x2_p']}"
                if row.get("s_x2_p") is not None
                else ""
            )
        )
    if accept:
        n = calibration.accept(
            proposal["token"],
            [r["item_id"] for r in proposal["items"]],
            "cli",
            "cat-server calibrate-bank --accept",
        )
        click.echo(f"Accepted: {n} items active with the new parameters.")


COMMANDS = (*COMMANDS, calibrate_bank_command)


@click.command("create-admin")
@click.argument("username")
@click.option("--name", required=True, help="Full name shown on the pages.")
@click.password_option(
    help="Initial password (asked twice when not given; "
    "CAT_PASSWORD_MIN_LENGTH characters at least)."
)
@with_appcontext
def create_admin_command(username, name, password):
    """Create the centre's first administrator; refused (exit 2) when an active one exists.

    Further accounts are made on /admin/users, where every change is audited.
    """
    from .sittings import FormProblems
    from .users import create_first_admin

    try:
        user = create_first_admin(username, name, password)
    except FormProblems as error:
        for field, message in error.problems:
            click.echo(f"{field}: {message}", err=True)
        click.echo("No account was created.", err=True)
        sys.exit(2)
    click.echo(f"Administrator {user.username} created; log in at /login.")


COMMANDS = (*COMMANDS, create_admin_command)


@click.group("exam")
def exam_group():
    """Exam files (JSON, docs/formats.md): export an exam, import one on another server."""


@exam_group.command("export")
@click.argument("exam_id", type=int)
@click.argument("path", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@with_appcontext
def export_exam_command(exam_id, path):
    """Write exam EXAM_ID as an exam file (PATH, or - for standard output)."""
    from ..errors import ExamError
    from .exam_builder import export_exam_file

    try:
        text = export_exam_file(exam_id)
    except ExamError as error:
        click.echo(error.message_en, err=True)
        sys.exit(2)
    with click.open_file(path, "w", encoding="utf-8") as out:
        out.write(text)


@exam_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_exam_command(path):
    """Check an exam file against its bank and save it as a new exam: whole or not at all.

    Every problem is named (section, field, what was expected; exit code 2).
    """
    import os

    from .exam_builder import import_exam_file
    from .sittings import FormProblems

    with open(path, "rb") as f:
        data = f.read()
    try:
        exam = import_exam_file(data, os.path.basename(path), actor="cli")
    except FormProblems as error:
        for where, message in error.problems:
            click.echo(f"{os.path.basename(path)}: {where or '-'}: {message}", err=True)
        click.echo("Nothing was imported.", err=True)
        sys.exit(2)
    click.echo(f"Imported exam {exam.id}: {exam.name}")


COMMANDS = (*COMMANDS, exam_group)
