"""``cloudmotion score``: parse, then :func:`cloudmotion.tools.score_vectors.score_file`."""

from __future__ import annotations

import json

import click

from cloudmotion.cli.main import set_verbosity
from cloudmotion.cli.options import verbosity


@click.command("score")
@click.argument("vectors", metavar="VECTORS.(csv|tif)|-", type=click.Path(allow_dash=True, readable=False))
@click.argument("truth", metavar="TRUTH.tif", type=click.Path(readable=False))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print the figures as JSON: {"vectors", "truth", "pairs": [one object per pair]}.',
)
@verbosity
@click.pass_context
def command(ctx: click.Context, vectors: str, truth: str, as_json: bool, quiet: bool, verbose: int) -> None:
    """Error of tracked VECTORS against the true displacement in TRUTH (from synth).

    VECTORS - reads CSV from standard input (cloudmotion track ... | cloudmotion score - truth.tif).
    Pair i of a synth sequence is scored against the truth per step, sampled bilinearly
    where each vector's feature started in frame 0; statistics are over good vectors
    (flag 0): RMS, bias per axis, 95th percentile, shares above 0.5 px and 1 px, and
    the share flagged.
    """
    from cloudmotion.tools.score_vectors import format_scores, score_file, scores_json

    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    rows = score_file(vectors, truth)
    click.echo(json.dumps(scores_json(rows, vectors, truth), indent=1) if as_json else format_scores(rows))
