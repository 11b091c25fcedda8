"""``cloudmotion verify``: parse, then :func:`cloudmotion.tools.verify_nowcast.run_verify`."""

from __future__ import annotations

import sys

import click

from cloudmotion.cli.main import warn
from cloudmotion.cli.options import verbosity


@click.command("verify")
@click.argument("nowcast", metavar="NOWCAST.tif")
@click.argument("observed", metavar="OBSERVED")
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
@click.option("--json", "as_json", is_flag=True, help="One JSON object on standard output.")
@verbosity
@click.pass_context
def command(
    ctx: click.Context,
    nowcast: str,
    observed: str,
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
    """
    from cloudmotion.files.stdout import data_stdout
    from cloudmotion.tools.verify_nowcast import format_scores, run_verify

    ctx.obj.update(quiet=quiet, verbose=verbose)
    result, meta = run_verify(nowcast, observed, persistence=persistence, fss=fss, warn=lambda m: warn(ctx, m))
    out = data_stdout(sys.stdout)
    out.write(format_scores(result, meta, as_json=as_json, fss=fss))
    out.flush()
