"""Talking to the chain: the outbox and its writes, the indexer and its projections, anchoring,
the relay for consumer-signed transactions, and the Clique signers kept in step with membership."""
