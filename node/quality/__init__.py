"""Data quality: the rules checked over a version (rules) and the PDMA loop that opens, repairs
and closes issues on chain (loop)."""
