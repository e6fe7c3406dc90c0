"""The book's machinery: the runner and its command line, the record of a full run and the
README section, checks of the built book, page post-processing, the Sphinx extension and the
notebooks' setup call. May import anything; nothing in ``helpers`` imports it (except the
``python -m helpers.run`` / ``helpers.record`` entry points)."""
