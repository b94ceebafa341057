"""The consortium's governance as a department's node serves it: :mod:`node.governance.state`
reads the consortium as the chain holds it (members, proposals, consumers, auditors,
coordinators, the pause); :mod:`node.governance.actions` checks and queues the writes (proposals
and votes, sponsored consumers, service accounts, and the coordinator's roles and pause)."""
