"""Sphinx configuration of the sk_mtgru documentation."""

import sk_mtgru

project = "sk_mtgru"
author = "The sk_mtgru developers"
release = sk_mtgru.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
}
exclude_patterns = ["_build"]
html_theme = "pydata_sphinx_theme"
