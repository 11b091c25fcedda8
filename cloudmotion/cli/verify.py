"""``cloudmotion verify``: parse, then :func:`cloudmotion.tools.verify_nowcast.run_verify`."""

from __future__ import annotations

import sys

import click

from cloudmotion.cli.main import warn
from cloudmotion.cli.options import verbosity
from cloudmotion.errors import UsageError


@click.command("verify")
@click.argument("nowcast", metavar="NOWCAST.tif|SITE_NOWCAST.csv")
@click.argument("observed", nargs=-1, required=True, metavar="OBSERVED [OBSERVED ...]")
@click.option(
    "--sites",
    metavar="SITES.csv",
    help="Score a site nowcast table against the OBSERVED frames at its valid times, per lead time.",
)
@click.option(
    "--persistence",
    metavar="FRAME",
    help="The latest frame the nowcast started from.  [default: the nowcast's SOURCE_FRAME tag]",
)
@click.option(
    "--fss",
    metavar="THRESHOLD,SCALE_PX",
    help="Also the fractions skill score of values >= THRESHOLD over SCALE_PX squares.",
)
@click.option(
    "--cloud-model",
    metavar="FILE.toml|auto",
    help="With --sites, for a cloud probability table: the model of the observed frames' cloud "
    "probability (use the nowcast's).  [default: auto]",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on standard output.")
@verbosity
@click.pass_context
def command(
    ctx: click.Context,
    nowcast: str,
    observed: tuple[str, ...],
    sites: str | None,
    cloud_model: str | None,
    persistence: str | None,
    fss: str | None,
    as_json: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Score a NOWCAST against the OBSERVED frame, and against persistence.

    Over pixels valid in all three: RMSE and mean error (nowcast - observed) of the
    nowcast and of persistence (the latest frame unchanged), the skill score
    1 - RMSE/RMSE_persistence and, with --fss, the fractions skill score.

    With --sites, NOWCAST is a site nowcast table and OBSERVED the frames seen since: per
    lead, MAE, RMSE, skill against persistence (the frame at the issue time, when given),
    CRPS and its skill against the unperturbed member, the spread-skill ratio, the p10-p90
    coverage and, for a cloud probability, the Brier score.
    """
    from cloudmotion.files.stdout import data_stdout
    from cloudmotion.tools.verify_nowcast import format_scores, run_verify

    ctx.obj.update(quiet=quiet, verbose=verbose)
    out = data_stdout(sys.stdout)
    if sites is not None:
        from cloudmotion.tools.site_verify import format_site_scores, run_site_verify

        for given, name in ((persistence, "--persistence"), (fss, "--fss")):
            if given is not None:
                raise UsageError(f"{name}: not with --sites (persistence is the frame at the issue time)")
        scores, meta = run_site_verify(sites, nowcast, observed, cloud_model=cloud_model, warn=lambda m: warn(ctx, m))
        out.write(format_site_scores(scores, meta, as_json=as_json))
        out.flush()
        return
    if cloud_model is not None:
        raise UsageError("--cloud-model: only with --sites")
    if len(observed) != 1:
        raise UsageError(f"OBSERVED: one frame for a frame nowcast, got {len(observed)} (site tables take --sites)")
    result, meta = run_verify(nowcast, observed[0], persistence=persistence, fss=fss, warn=lambda m: warn(ctx, m))
    out.write(format_scores(result, meta, as_json=as_json, fss=fss))
    out.flush()
