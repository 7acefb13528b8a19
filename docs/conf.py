"""Sphinx configuration of the sk_mtgru documentation.

``make docs`` builds it with warnings as errors; the gallery's examples run during
the build, so none of them can go stale.
"""

import os

import sk_mtgru

os.environ.setdefault("MPLBACKEND", "Agg")

project = "sk_mtgru"
author = "The sk_mtgru developers"
copyright = "2026, The sk_mtgru developers"
release = sk_mtgru.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
# No intersphinx: the build machines reach no web site but the package registries.

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "reference_url": {"sk_mtgru": None},
    "within_subsection_order": "FileNameSortKey",
}

exclude_patterns = ["_build", "notebooks", "**/GALLERY_HEADER.rst"]
html_theme = "pydata_sphinx_theme"
html_theme_options = {"navigation_with_keys": False}
html_title = f"sk_mtgru {release}"
