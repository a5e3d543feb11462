"""nasbench command line: ``python cli.py --help``."""

import sys

from nasbench.cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
