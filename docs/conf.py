"""Sphinx configuration of the cloudmotion manual.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (the ``docs`` extra
installs the generators); man pages: ``sphinx-build -W -b man docs docs/_build/man``.
The references are generated: the CLI from the click commands (sphinx-click), the settings
from ``cloudmotion/settings/params.py`` (``reference/settings.md``, kept in sync by a test), the
API from the numpydoc docstrings (autodoc, autosummary).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# the checkout's package wins over an installed one
sys.path.insert(0, os.path.dirname(HERE))

import cloudmotion
from cloudmotion.cli.main import COMMANDS

project = "cloudmotion"
author = "the cloudmotion authors"
copyright = "the cloudmotion authors, BSD-3-Clause"
release = version = cloudmotion.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_click",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"cloudmotion {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}

# One man page per command, from its generated CLI reference page.
man_pages = [
    (
        "reference/cli/index",
        "cloudmotion",
        "cloud motion vectors from satellite frames",
        [author],
        1,
    )
]
man_pages += [
    (f"reference/cli/{name}", f"cloudmotion-{name}", short, [author], 1) for name, (_, short) in COMMANDS.items()
]
man_show_urls = False
