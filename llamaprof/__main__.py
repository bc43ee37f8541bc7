"""The ``llamaprof`` command's entry point (also ``python -m llamaprof``).

Loading the command line takes a few tenths of a second (pandas, numpy); a Ctrl-C in that
time would otherwise print Python's traceback. Here it ends the program as a cancel does:
quietly, exit status 130.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Load the command line, then run it."""
    try:
        from llamaprof.cli import main
    except KeyboardInterrupt:
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
