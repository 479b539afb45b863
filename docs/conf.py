"""Sphinx configuration of the course site (``make site`` builds it; see docs/build.py)."""

project = "modelsec-edu"
author = "modelsec-edu developers"
copyright = "2026, modelsec-edu developers (code MIT; MNIST CC BY-SA 3.0; German credit CC BY 4.0)"

extensions = ["myst_nb"]
# The notebooks arrive executed (quick mode) from docs/build.py: the site shows a real run.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
# Code cells are IPython (`!pip` in the Colab cell); a lexing fallback is cosmetic, not a broken
# page.
highlight_language = "ipython3"
suppress_warnings = ["mystnb.unknown_mime_type", "misc.highlighting_failure"]
# The generated tables (docs/build.py) are included into instructors.md, not pages of their own.
exclude_patterns = ["_build", "**.ipynb_checkpoints", "runtimes.md", "chapters.md", "tradeoffs.md"]

html_theme = "sphinx_book_theme"
html_title = "modelsec-edu: deep-learning model security, hands on"
html_theme_options = {
    "repository_url": "https://github.com/modelsec-edu/modelsec-edu",
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
    },
    "show_toc_level": 2,
}
html_static_path: list[str] = []
