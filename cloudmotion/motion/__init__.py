"""Motion: pre-filters, the coarse-to-fine NCC search, sub-pixel fit, Lucas–Kanade refinement and the expected error."""
