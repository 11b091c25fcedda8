"""``cloudmotion score``: parse, then :func:`cloudmotion.tools.scoring.score_file`."""

from __future__ import annotations

import json

import click

from .main import set_verbosity
from .options import verbosity


@click.command("score")
@click.argument("vectors", metavar="VECTORS.(csv|tif)")
@click.argument("truth", metavar="TRUTH.tif")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@verbosity
@click.pass_context
def command(ctx: click.Context, vectors: str, truth: str, as_json: bool, quiet: bool, verbose: int) -> None:
    """Error of tracked VECTORS against the true displacement in TRUTH (from synth).

    Pair i of a synth sequence is scored against the truth per step, sampled bilinearly
    where each vector's feature started in frame 0; statistics are over good vectors
    (flag 0): RMS, bias per axis, 95th percentile, shares above 0.5 px and 1 px, and
    the share flagged.
    """
    from ..tools.scoring import format_scores, score_file

    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    rows = score_file(vectors, truth)
    click.echo(json.dumps(rows if len(rows) > 1 else rows[0], indent=1) if as_json else format_scores(rows))
