"""``python -m ledger.geth``: build or find geth (the Makefile's ``geth`` target)."""

import sys

from ledger.geth.build import main

sys.exit(main())
