"""provledger api: the HTTP face of a department node."""
