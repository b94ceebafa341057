"""provledger ledger: the one place Python talks to the chain."""
