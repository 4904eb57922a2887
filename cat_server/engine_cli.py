"""Engine commands ``calibrate``, ``simulate``, ``eapsum``, ``link`` (no Flask app, no database).

The main CLI calls :func:`register` to add them to its click group::

    cat-server calibrate RESPONSES.csv --model 2pl --out PARAMS.csv
    cat-server simulate --bank BANK.csv --examinees 1000 --seed 1 --length 30 --out REPORT.json
    cat-server eapsum --bank FORM.csv --out TABLE.csv
    cat-server link --old OLD.csv --new NEW.csv --out LINKED.csv

Bad input prints one ``Error: row R, column C: ...`` line on stderr, exits with
code 2 and writes no output file. See docs/engine.md for the file formats.
"""

from __future__ import annotations

import json
import time

import click
import numpy as np

from . import irt
from .irt import calibration, io
from .irt.bank import prepare_bank
from .irt.engine import CatConfig
from .irt.scoring import eapsum_table
from .irt.simulation import simulate_cat, sympson_hetter_parameters
from .spreadsheet import restore_cell, safe_cell


def _fail(message):
    click.echo(f"Error: {message}", err=True)
    raise click.exceptions.Exit(2)


def _anchors(path, item_id, model, D):
    data = io.read_bank(path)
    items = io.items_from_bank_dict(data, D=D)
    where = {restore_cell(iid): k for k, iid in enumerate(data["item_id"].tolist())}
    return {j: (items, where[iid]) for j, iid in enumerate(item_id) if iid in where}


@click.command("calibrate")
@click.argument("responses", type=click.Path(dir_okay=False))
@click.option(
    "--model",
    type=click.Choice(["1pl", "2pl", "3pl", "4pl", "grm", "gpcm"], case_sensitive=False),
    default="2pl",
    show_default=True,
)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="PARAMS.csv")
@click.option("--D", "D", type=float, default=1.0, show_default=True, help="Scaling constant.")
@click.option("--max-score", type=int, default=None, help="Highest category score (GRM/GPCM).")
@click.option(
    "--anchors",
    type=click.Path(dir_okay=False),
    default=None,
    help="Bank/params CSV of fixed operational items (fixed-anchor calibration).",
)
@click.option(
    "--a-prior",
    "a_prior",
    default=None,
    metavar="MEAN,SD|none",
    help="Lognormal prior on a: log a ~ N(MEAN, SD); BILOG-MG's and mirt's lnorm is 0,0.5. "
    "'none': no prior. Default: 0,0.5 for 3pl/4pl, none otherwise. Use it when items "
    "have few answers (pretest items: about 30 each), where a can run away.",
)
@click.option("--max-iter", type=int, default=500, show_default=True)
@click.option("--tol", type=float, default=1e-4, show_default=True)
def calibrate_command(responses, model, out, D, max_score, anchors, a_prior, max_iter, tol):
    """Calibrate items from a wide RESPONSES.csv by marginal maximum likelihood (EM)."""
    model = model.lower()
    a_prior = _parse_a_prior(a_prior)
    fixed = None
    for path in (responses, anchors):
        if path is None:
            continue
        try:
            if path == responses:
                _pids, item_id, x = io.read_responses(responses, model, max_score)
                # an id like "=A1" comes as "'=A1" from our exports (spreadsheet.py)
                item_id = [restore_cell(iid) for iid in item_id]
            else:
                fixed = _anchors(anchors, item_id, model, D)
        except FileNotFoundError:
            _fail(f"{path}: file not found")
        except (io.InputError, ValueError) as exc:
            _fail(f"{path}: {exc}")
    n_cat = None if max_score is None else np.full(x.shape[1], max_score + 1)
    try:
        res = calibration.calibrate(
            x,
            model,
            D=D,
            n_cat=n_cat,
            anchors=fixed,
            a_prior=a_prior,
            max_iter=max_iter,
            tol=tol,
            item_id=item_id,
        )
    except ValueError as exc:
        _fail(str(exc))
    io.write_atomic(out, io.format_params([safe_cell(iid) for iid in item_id], res))
    click.echo(f"iterations: {res.n_iter}{'' if res.converged else ' (not converged)'}")
    click.echo(f"log-likelihood: {res.log_likelihood:.4f}")
    click.echo(
        f"AIC: {res.aic:.2f}  BIC: {res.bic:.2f}  "
        f"({res.n_parameters} parameters, {res.n_persons} persons)"
    )
    p = res.fit.get("s_x2_p")
    if p is not None and np.isfinite(p).any():
        bad = [(float(p[j]), item_id[j]) for j in np.flatnonzero(p < 0.01)]
        listed = ", ".join(f"{iid} (p={v:.2g})" for v, iid in sorted(bad)[:10])
        click.echo(
            f"S-X2 item fit: {len(bad)} of {int(np.isfinite(p).sum())} items with p < 0.01"
            + (f": {listed}" if bad else "")
        )
    elif model in ("1pl", "2pl", "3pl", "4pl"):
        click.echo("S-X2 item fit: not computed (no person answered every item)")
    click.echo(f"wrote {len(item_id)} items to {out} in {res.seconds:.2f} s")


def _parse_a_prior(spec):
    """``--a-prior``: None (the model's default), False (``none``) or (mean, sd) of log a."""
    if spec is None:
        return None
    if spec.strip().lower() in ("none", "off"):
        return False
    try:
        mean, sd = (float(v) for v in spec.split(","))
    except ValueError:
        mean, sd = None, 0.0
    if mean is None or not (np.isfinite(mean) and np.isfinite(sd) and sd > 0):
        raise click.BadParameter(
            "use MEAN,SD of log a with SD > 0 (e.g. 0,0.5) or none", param_hint="--a-prior"
        )
    return mean, sd


def _parse_exposure(spec):
    name, _, arg = spec.partition(":")
    name = name.strip().lower()
    try:
        if name in ("none", ""):
            return "none", None
        if name == "randomesque":
            return name, int(arg or 5)
        if name in ("sympson-hetter", "sh"):
            return "sympson-hetter", float(arg or 0.25)
        if name == "progressive":
            return name, None
        if name == "progressive-restricted":
            return "progressive", float(arg or 0.25)
    except ValueError:
        pass
    raise click.BadParameter(
        "use none, randomesque:K, sympson-hetter:R, progressive or progressive-restricted:R",
        param_hint="--exposure",
    )


def _parse_content(spec):
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        name, _, val = part.partition("=")
        try:
            if ":" in val:
                lo, hi = val.split(":")
                out[name.strip()] = (int(lo or 0), int(hi) if hi else None)
            else:
                out[name.strip()] = float(val)
        except ValueError:
            raise click.BadParameter(
                "use SECTION=PROPORTION,... or SECTION=MIN:MAX,...", param_hint="--content"
            ) from None
    kinds = {isinstance(v, tuple) for v in out.values()}
    if len(kinds) > 1:
        raise click.BadParameter("mix of proportions and counts", param_hint="--content")
    return out


@click.command("simulate")
@click.option("--bank", "bank_path", required=True, type=click.Path(dir_okay=False))
@click.option("--examinees", type=int, default=None, help="Default 1000, or one per --thetas line.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--length", type=int, default=None, help="Fixed test length.")
@click.option("--se", "se_target", type=float, default=None, help="Stop at this SE.")
@click.option("--min-length", type=int, default=None)
@click.option("--max-length", type=int, default=None)
@click.option(
    "--exposure",
    default="none",
    show_default=True,
    help="none | randomesque:K | sympson-hetter:R | progressive | progressive-restricted:R",
)
@click.option(
    "--selection", type=click.Choice(["mfi", "pwi", "kl"]), default="mfi", show_default=True
)
@click.option("--content", default=None, help="SECTION=0.3,... or SECTION=MIN:MAX,...")
@click.option("--cut", type=float, default=None, help="Cut score (theta) for pass/fail.")
@click.option("--classification", type=click.Choice(["sprt", "ci"]), default=None)
@click.option(
    "--thetas",
    "thetas_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="File of true abilities, one a line (or a CSV with a 'theta' column).",
)
@click.option("--theta-mean", type=float, default=0.0, show_default=True)
@click.option("--theta-sd", type=float, default=1.0, show_default=True)
@click.option(
    "--estimator", type=click.Choice(["eap", "map", "mle", "wle"]), default="eap", show_default=True
)
@click.option("--D", "D", type=float, default=1.0, show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="REPORT.json")
@click.option(
    "--details",
    "details_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write one CSV row per candidate: theta, estimate, se, length.",
)
def simulate_command(
    bank_path, examinees, seed, length, se_target, min_length, max_length, exposure, selection,
    content, cut, classification, thetas_path, theta_mean, theta_sd, estimator, D, out,
    details_path,
):  # fmt: skip
    """Simulate N candidates of known ability through a bank and a CAT design.

    The same --seed gives the same candidates (true abilities and answers)
    whatever the exposure rule, so runs pair.
    """
    t0 = time.perf_counter()
    if length is not None and se_target is not None:
        _fail("give either --length or --se (with --max-length), not both")
    thetas = None
    if thetas_path is not None:
        try:
            thetas = io.read_thetas(thetas_path)
        except FileNotFoundError:
            _fail(f"{thetas_path}: file not found")
        except io.InputError as exc:
            _fail(f"{thetas_path}: {exc}")
        if examinees is not None and examinees != thetas.size:
            _fail(
                f"--examinees {examinees} but {thetas_path} holds {thetas.size} thetas; "
                "leave --examinees out to use them all"
            )
        examinees = thetas.size
    examinees = 1000 if examinees is None else examinees
    if examinees < 1:
        _fail("--examinees must be >= 1")
    exp_name, exp_arg = _parse_exposure(exposure)
    content = _parse_content(content)
    try:
        data = io.read_bank(bank_path)
        items = io.items_from_bank_dict(data, D=D)
    except FileNotFoundError as exc:
        _fail(f"{exc.filename}: file not found")
    except io.InputError as exc:
        _fail(f"{bank_path}: {exc}")
    except ValueError as exc:
        _fail(f"{bank_path}: {exc}")
    bank = prepare_bank(
        items=items,
        item_id=data["item_id"],
        section=data["section"],
        status=data["status"],
        enemy_group=data["enemy_group"],
    )
    if se_target is None:
        max_len = length or max_length or 30
        min_len = min_length or 0
    else:
        max_len = max_length or 50
        min_len = min_length or 0
    try:
        cfg = CatConfig(
            min_length=min(min_len, max_len),
            max_length=max_len,
            se_target=se_target,
            cut=cut,
            classification=classification,
            selection=selection,
            exposure=exp_name,
            randomesque_k=exp_arg if exp_name == "randomesque" else 5,
            max_exposure_rate=exp_arg if exp_name == "progressive" else None,
            content=content,
        )
    except ValueError as exc:
        _fail(str(exc))
    # one stream each for the abilities, the answers and the exposure
    # parameters: the same seed gives the same candidates whatever the rules
    theta_rng, sim_rng, sh_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    theta = theta_rng.normal(theta_mean, theta_sd, examinees) if thetas is None else thetas
    extra = {}
    if exp_name == "sympson-hetter":
        t1 = time.perf_counter()
        population = (theta_mean, theta_sd) if thetas is None else (thetas.mean(), thetas.std())
        cfg.sh_k = sympson_hetter_parameters(
            bank, cfg, sh_rng, r_max=exp_arg, theta_mean=population[0], theta_sd=population[1]
        )
        extra["sympson_hetter_seconds"] = time.perf_counter() - t1
    report = simulate_cat(
        bank, cfg, theta, sim_rng, final_estimator=estimator, return_details=bool(details_path)
    )
    details = report.pop("details", None)
    report.update(extra)
    report["config"] = {
        "bank": bank_path,
        "n_items": bank.n_items,
        "examinees": examinees,
        "seed": seed,
        "thetas": thetas_path,
        "min_length": cfg.min_length,
        "max_length": cfg.max_length,
        "se_target": se_target,
        "exposure": exposure,
        "selection": selection,
        "content": content,
        "estimator": estimator,
        "cut": cut,
        "classification": classification,
    }
    report["seconds"] = time.perf_counter() - t0
    if details is not None:
        io.write_atomic(details_path, _details_csv(details))
    io.write_atomic(out, json.dumps(report, indent=2, default=str) + "\n")
    click.echo(
        f"rmse {report['rmse']:.3f}  bias {report['bias']:+.3f}  mean SE {report['mean_se']:.3f}  "
        f"mean length {report['mean_length']:.1f}  max exposure {report['max_exposure']:.2f}  "
        f"({report['seconds']:.1f} s) -> {out}"
    )


def _details_csv(details):
    rows = ["examinee,theta,estimate,se,length"]
    for i, (t, e, s, n) in enumerate(
        zip(details["theta"], details["estimate"], details["se"], details["length"], strict=True)
    ):
        rows.append(f"{i + 1},{t:.6f},{e:.6f},{s:.6f},{n}")
    return "\n".join(rows) + "\n"


@click.command("eapsum")
@click.option("--bank", "bank_path", required=True, type=click.Path(dir_okay=False))
@click.option(
    "--section",
    "sections",
    multiple=True,
    help="Only the items of this section (repeat for several); default every item.",
)
@click.option("--prior-mean", type=float, default=0.0, show_default=True)
@click.option("--prior-sd", type=float, default=1.0, show_default=True)
@click.option("--D", "D", type=float, default=1.0, show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="TABLE.csv")
def eapsum_command(bank_path, sections, prior_mean, prior_sd, D, out):
    """Sum-score-to-theta table (EAP[sum]) of a fixed form: every item of BANK.csv."""
    if prior_sd <= 0:
        _fail("--prior-sd must be > 0")
    try:
        data = io.read_bank(bank_path)
        items = io.items_from_bank_dict(data, D=D)
    except FileNotFoundError:
        _fail(f"{bank_path}: file not found")
    except (io.InputError, ValueError) as exc:
        _fail(f"{bank_path}: {exc}")
    if sections:
        keep = np.isin(data["section"].astype(str), list(sections))
        if not keep.any():
            found = sorted({str(v) for v in data["section"]})
            _fail(
                f"{bank_path}: no item in section {', '.join(sections)} (found: {', '.join(found)})"
            )
        items = items.subset(np.flatnonzero(keep))
    table = eapsum_table(items, prior_mean=prior_mean, prior_sd=prior_sd)
    rows = ["score,theta,se,probability"]
    rows += [
        f"{s},{t:.6f},{e:.6f},{p:.6g}"
        for s, t, e, p in zip(table.score, table.theta, table.se, table.probability, strict=True)
    ]
    io.write_atomic(out, "\n".join(rows) + "\n")
    click.echo(
        f"{items.n_items} items, sum scores 0..{int(table.score[-1])}: "
        f"theta {table.theta[0]:+.3f} .. {table.theta[-1]:+.3f} -> {out}"
    )


@click.command("link")
@click.option("--old", "old_path", required=True, type=click.Path(dir_okay=False), help="OLD.csv")
@click.option("--new", "new_path", required=True, type=click.Path(dir_okay=False), help="NEW.csv")
@click.option(
    "--anchors",
    "anchor_list",
    default=None,
    help="Comma-separated anchor item ids (default: every id in both files).",
)
@click.option(
    "--method",
    type=click.Choice(["stocking-lord", "haebara", "mean-sigma", "mean-mean"]),
    default="stocking-lord",
    show_default=True,
)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="LINKED.csv")
def link_command(old_path, new_path, anchor_list, method, out):
    """Put a new calibration (NEW.csv) on the scale of OLD.csv through shared anchor items."""
    files = {}
    for path in (old_path, new_path):
        try:
            data = io.read_bank(path)
            files[path] = (
                [restore_cell(i) for i in data["item_id"]],
                io.items_from_bank_dict(data),
            )
        except FileNotFoundError:
            _fail(f"{path}: file not found")
        except (io.InputError, ValueError) as exc:
            _fail(f"{path}: {exc}")
    (old_ids, old_items), (new_ids, new_items) = files[old_path], files[new_path]
    where_old = {iid: k for k, iid in enumerate(old_ids)}
    where_new = {iid: k for k, iid in enumerate(new_ids)}
    if anchor_list:
        anchors = [a.strip() for a in anchor_list.split(",") if a.strip()]
        for a in anchors:
            for where, path in ((where_old, old_path), (where_new, new_path)):
                if a not in where:
                    _fail(f"anchor {a!r} is not in {path}")
    else:
        anchors = [iid for iid in new_ids if iid in where_old]
    if len(anchors) < 2:
        _fail(f"need at least 2 anchors, found {len(anchors)}: {', '.join(anchors) or 'none'}")
    old_a = old_items.subset(np.array([where_old[a] for a in anchors]))
    new_a = new_items.subset(np.array([where_new[a] for a in anchors]))
    try:
        link = irt.link_scales(old_a, new_a, method)
    except ValueError as exc:
        _fail(str(exc))
    try:
        text = io.relink_csv(new_path, link.A, link.B)
    except io.InputError as exc:
        _fail(f"{new_path}: {exc}")
    io.write_atomic(out, text)
    click.echo(
        f"{method} on {link.n_anchors} anchors: theta_old = {link.A:.4f} theta_new "
        f"{'+' if link.B >= 0 else '-'} {abs(link.B):.4f}"
    )
    click.echo(f"wrote {len(new_ids)} items on the old scale to {out}")


def register(cli_group):
    """Add the engine commands to a click group (the main ``cat-server`` CLI)."""
    cli_group.add_command(calibrate_command, "calibrate")
    cli_group.add_command(simulate_command, "simulate")
    cli_group.add_command(eapsum_command, "eapsum")
    cli_group.add_command(link_command, "link")
