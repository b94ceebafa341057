"""The exceptions of ``node``: one root, leaves built from typed arguments."""

from __future__ import annotations


class NodeError(Exception):
    """Root of every error raised by ``node``."""


class SettingsInvalid(NodeError, ValueError):
    """A setting is missing or wrong; ``setting`` names it."""

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"setting {setting}: {reason}")


class NotFound(NodeError, LookupError):
    """No ``kind`` with ``key`` is known to this node."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key}")


class AlreadyExists(NodeError):
    """A ``kind`` with ``key`` exists already."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key} exists already")


class Gone(NodeError):
    """The ``kind`` with ``key`` was here and is no longer: ``reason`` says when and why."""

    def __init__(self, kind: str, key: str, reason: str) -> None:
        self.kind = kind
        self.key = key
        self.reason = reason
        super().__init__(f"{kind} {key}: {reason}")


class VersionPurged(Gone):
    """Version ``number`` of ``dataset_id`` was purged (its plaintext removed as the law requires):
    nothing is delivered or queried from it; its root and evidence stay."""

    def __init__(self, dataset_id: str, number: int, reason: str) -> None:
        self.dataset_id = dataset_id
        self.number = number
        super().__init__("version", f"{dataset_id} #{number}", reason)


class InvalidInput(NodeError, ValueError):
    """``field`` is wrong: ``reason``."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class QueryRefused(InvalidInput):
    """An aggregate query is refused before it runs: ``construct`` (``SELECT *``, a join, the
    field 身份证号...) is not allowed, ``reason`` says why. ``column`` is the dataset field it
    concerns, if any; ``identifying`` when that field is of an identifying class. Nothing is
    run, released or spent."""

    def __init__(self, construct: str, reason: str, *, column: str | None = None, identifying: bool = False) -> None:
        self.construct = construct
        self.column = column
        self.identifying = identifying
        super().__init__("sql", f"{construct}: {reason}")


class WriteRejected(NodeError):
    """The chain node refused a signed transaction outright: ``reason``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the chain node refused a transaction: {reason}")


class DecryptionFailed(NodeError, ValueError):
    """An encrypted delivery (or ``what`` else) cannot be opened: ``reason``. Wrong key and changed
    data look alike."""

    def __init__(self, reason: str, what: str = "the delivery") -> None:
        self.reason = reason
        super().__init__(f"cannot decrypt {what}: {reason}")


class NotPermitted(NodeError, PermissionError):
    """``who`` may not ``action``: ``reason``."""

    def __init__(self, who: str, action: str, reason: str) -> None:
        self.who = who
        self.action = action
        self.reason = reason
        super().__init__(f"{who} may not {action}: {reason}")


class Conflict(NodeError):
    """``subject`` is in a state that does not allow it: ``reason``."""

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(f"{subject}: {reason}")


class StatementRefused(NodeError, ValueError):
    """The consumer's check refuses settlement statement ``statement_id``: each of ``problems``
    says what does not hold against the chain. Nothing is acknowledged."""

    def __init__(self, statement_id: str, problems: list[str]) -> None:
        self.statement_id = statement_id
        self.problems = list(problems)
        super().__init__(f"statement {statement_id} refused: " + "; ".join(self.problems))


class DeliveryRefused(NodeError):
    """The grant does not allow a delivery now: ``refusal`` (a ``ledger.clients.Refusal`` name).
    The attempt is still recorded on-chain, where the contract refuses and logs it."""

    def __init__(self, grant_id: str, refusal: str, detail: str) -> None:
        self.grant_id = grant_id
        self.refusal = refusal
        self.detail = detail
        super().__init__(f"grant {grant_id} refused: {detail}")


class CannotRecord(NodeError):
    """The node cannot record the work asked of it now (``reason``), so it does not do it: a
    ledger paused by the coordinator, a chain it cannot reach, an outbox too far behind. Failing
    closed, with why; ``retry_after`` (seconds) says when to ask again, if known."""

    def __init__(self, reason: str, *, retry_after: int | None = None) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(f"cannot record this now: {reason}")


class LedgerPaused(CannotRecord):
    """The coordinator has paused the ledger, for ``reason`` (its text, when this node has it):
    nothing is recorded until it resumes, so no write or delivery is taken on now."""

    def __init__(self, reason: str | None) -> None:
        self.paused_for = reason
        why = f": {reason}" if reason else ""
        super().__init__(f"the coordinator has paused the ledger{why}; no write can be recorded until it resumes")


class SourceTampered(NodeError):
    """The stored content of ``subject`` no longer hashes to the root anchored on chain."""

    def __init__(self, subject: str, anchored: str, found: str) -> None:
        self.subject = subject
        self.anchored = anchored
        self.found = found
        super().__init__(f"{subject} no longer matches its anchored root {anchored} (it hashes to {found}); "
                         "nothing is served from it")


class ChainMoved(NodeError):
    """The chain's block ``number`` is no longer ``expected`` (a reorg the index has not followed
    yet, or one during a read)."""

    def __init__(self, number: int, expected: str, found: str) -> None:
        self.number = number
        self.expected = expected
        self.found = found
        super().__init__(f"block {number} is {found} on chain, not {expected}")
