"""Tools behind the commands that read and write files: plot, info, synth, score, nowcast and verify."""
