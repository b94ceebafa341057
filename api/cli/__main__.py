"""``python -m api.cli ...``: the ``provledger`` command."""

import sys

from api.cli import main

sys.exit(main())
