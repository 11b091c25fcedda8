"""The benchmark harness as a package of small modules (see ``benchmarks/README.md``).

``benchmarks/run.py`` is the entry point. The modules import nothing heavy at import time
beyond numpy, so ``run.py`` can set the thread counts and take its snapshot of the package
before cloudmotion is imported.
"""
