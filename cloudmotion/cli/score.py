"""``cloudmotion score``: parse, then :func:`cloudmotion.tools.score_vectors.score_file`
(or, with ``--consistency``, :func:`cloudmotion.tools.consistency.consistency_file`)."""

from __future__ import annotations

import json

import click

from cloudmotion.cli.main import set_verbosity
from cloudmotion.cli.options import verbosity


@click.command("score")
@click.argument("vectors", metavar="VECTORS.(csv|tif)|-|FWD.csv", type=click.Path(allow_dash=True, readable=False))
@click.argument("truth", metavar="TRUTH.tif|BWD.csv", type=click.Path(readable=False))
@click.option(
    "--consistency",
    is_flag=True,
    help="No truth: the arguments are FWD.csv (track A B) and BWD.csv (track B A); report the "
    "forward-backward miss of good vectors against their ee, fb/sqrt(2)/ee, overall and per ee decile.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print the figures as JSON: {"vectors", "truth", "pairs": [one object per pair]} '
    '(with --consistency: {"forward", "backward", "calibrated_median", "pairs"}).',
)
@verbosity
@click.pass_context
def command(
    ctx: click.Context, vectors: str, truth: str, consistency: bool, as_json: bool, quiet: bool, verbose: int
) -> None:
    """Error of tracked VECTORS against the true displacement in TRUTH (from synth).

    VECTORS - reads CSV from standard input (cloudmotion track ... | cloudmotion score - truth.tif).
    Pair i of a synth sequence is scored against the truth per step, sampled bilinearly
    where each vector's feature started in frame 0; statistics are over good vectors
    (flag 0): RMS, bias per axis, 95th percentile, shares above 0.5 px and 1 px, and
    the share flagged.

    With --consistency, FWD.csv and BWD.csv are the same frames tracked both ways
    (cloudmotion track A B -o fwd.csv; cloudmotion track B A -o bwd.csv): where ee is
    calibrated, fb/sqrt(2)/ee has a median near 0.83 and an RMS per decile near 1.
    """
    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    if consistency:
        from cloudmotion.tools.consistency import consistency_file, consistency_json, format_consistency

        rows = consistency_file(vectors, truth)
        click.echo(
            json.dumps(consistency_json(rows, vectors, truth), indent=1) if as_json else format_consistency(rows)
        )
        return
    from cloudmotion.tools.score_vectors import format_scores, score_file, scores_json

    rows = score_file(vectors, truth)
    click.echo(json.dumps(scores_json(rows, vectors, truth), indent=1) if as_json else format_scores(rows))
