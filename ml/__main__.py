"""`python -m ml`: the pipeline's command line, which lives in the top-level `cli` package."""

import sys

from cli.commands import main

sys.exit(main())
