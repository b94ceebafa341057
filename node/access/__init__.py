"""Access to data: review of requests, the uses recorded on chain, settlement, and delivery
(checks against the chain, masking, fingerprints, encryption)."""
