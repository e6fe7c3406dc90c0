"""``python -m helpers.run``: the command the README, the Makefile and the book pages give.

The runner lives in :mod:`helpers.book.run`, its command line in :mod:`helpers.book.cli`; this
entry point only keeps the short command working.
"""

import sys

from helpers.book.cli import main

if __name__ == "__main__":
    sys.exit(main())
