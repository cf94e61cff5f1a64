"""``python -m gradkit ...``: the ``gradkit`` command line (see ``gradkit.cli``)."""

import sys

from gradkit.cli import main

sys.exit(main())
