"""provledger node: the service each department runs beside its chain node."""
