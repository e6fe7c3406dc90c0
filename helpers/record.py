"""``python -m helpers.record``: record a finished run (``results/<profile>.json``) or regenerate
the README's full-results section from it; the code is :mod:`helpers.book.record`."""

import sys

from helpers.book.record import main

if __name__ == "__main__":
    sys.exit(main())
