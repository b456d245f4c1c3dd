"""``python -m components.cli``: the same as the ``modelplane`` command."""

import sys

from components.cli.main import main

sys.exit(main())
