"""Helper package of the reproducible book.

Each module is small and named for what it does; the notebooks import the modules they need
(``from helpers import artifacts, data_imdb``).  See CONTRIBUTING.md for the contract between
notebooks, helpers and the book build.
"""

__version__ = "0.1.0"
