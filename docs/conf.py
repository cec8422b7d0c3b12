"""Sphinx configuration for torchgeo-composition."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import torchgeo_composition

project = "torchgeo-composition"
author = "torchgeo-composition contributors"
copyright = "2026, torchgeo-composition contributors"
release = torchgeo_composition.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# No network here: cross-references to other projects are not resolved.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = False
suppress_warnings = ["myst.xref_missing"]

html_theme = "furo"
html_title = "torchgeo-composition"
