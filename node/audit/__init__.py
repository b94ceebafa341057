"""Tracing afterwards: traces from the index, verification against the chain, completeness,
the live monitor and its alerts, and the PROV export."""
