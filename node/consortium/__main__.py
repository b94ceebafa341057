"""``python -m node.consortium up|down|status``."""

import sys

from node.consortium.commands import main

sys.exit(main())
