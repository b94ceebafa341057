"""Sessions follow the chain: the roles a session token names are held against the Consortium
contract again on every request, so that a consumer removed by its sponsor, an auditor whose
role was revoked, or a node whose department left the consortium stops acting within seconds,
not when its token expires.

The chain is read at most once per address every ``ttl`` seconds (one JSON-RPC batch), by one
thread while any others asking for that address wait for its answer; a request whose answer
is cached reads nothing.

Staff sessions follow the node's database the same way: each request holds the token against
its staff account, read at most once per username every ``ttl`` seconds, so that a disabled
account, a changed password or a changed staff role takes effect within seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from eth_abi.abi import decode, encode
from eth_utils.abi import function_signature_to_4byte_selector
from sqlalchemy.orm import Session, sessionmaker

from api.errors import ApiError, forbidden, unauthenticated
from ledger.errors import ChainReadFailed, ChainUnavailable
from ledger.rpc import RpcBatcher
from node.departments import code_of
from node.models import STAFF_ROLES, StaffAccount

if TYPE_CHECKING:
    from api.auth.tokens import Principal
    from ledger.contracts import ConsortiumClient

ZERO32 = b"\x00" * 32
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PRUNE_ABOVE = 4096
_VIEWS = (("isAuditor", "bool"), ("isCoordinator", "bool"), ("sponsorOf", "bytes32"), ("departmentOf", "bytes32"))
# Encoded by hand once: web3's encode_abi validates the whole ABI on every call (~10 ms).
_SELECTORS = tuple("0x" + function_signature_to_4byte_selector(f"{view}(address)").hex() for view, _ in _VIEWS)


@dataclass(frozen=True)
class Standing:
    """What the Consortium contract says of one address at one moment."""

    auditor: bool
    coordinator: bool
    sponsor: bytes
    """The department sponsoring the address as a consumer, or zero."""
    department: bytes
    """The active department the address serves as a service account, or zero."""


ChainFailure = ChainUnavailable | ChainReadFailed


class ChainRoles:
    """Each address's :class:`Standing`, read from the chain when the cached one is older than
    ``ttl``. A read the chain did not answer is remembered as long, so that requests queued
    behind it fail at once instead of each waiting for the chain in turn.

    The reads go through ``rpc``, else the batcher of the Ledger ``consortium`` belongs to,
    each bounded by ``timeout`` seconds."""

    def __init__(self, consortium: ConsortiumClient, *, ttl: float = 3.0, rpc: RpcBatcher | None = None,
                 clock: Callable[[], float] = time.monotonic, timeout: float = 5.0) -> None:
        self.consortium = consortium
        self.ttl = ttl
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, Standing | ChainFailure]] = {}
        self._reading: dict[str, threading.Lock] = {}
        self._rpc = rpc

    def _fresh(self, address: str) -> Standing | ChainFailure | None:
        with self._lock:
            entry = self._cached.get(address)
        if entry is None or self._clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def cached(self, address: str) -> Standing | None:
        """The standing read less than ``ttl`` ago, or None; never reads the chain."""
        found = self._fresh(address)
        return found if isinstance(found, Standing) else None

    def standing(self, address: str) -> Standing:
        """The standing of ``address``, read now unless one read less than ``ttl`` ago is
        cached; blocks on a read. Raises :class:`ChainUnavailable` when the chain does not answer,
        :class:`ChainReadFailed` when it answers one of the reads with an error."""
        found = self._fresh(address)
        if found is None:
            with self._lock:
                reading = self._reading.setdefault(address, threading.Lock())
            with reading:
                found = self._fresh(address)  # another request may have read it meanwhile
                if found is None:
                    found = self._refresh(address)
        # A new exception each time: many threads may raise it.
        if isinstance(found, ChainUnavailable):
            raise ChainUnavailable(found.url) from found
        if isinstance(found, ChainReadFailed):
            raise ChainReadFailed(found.what, found.reason) from found
        return found

    def _refresh(self, address: str) -> Standing | ChainFailure:
        # Aged from before the read: a revocation mined during it is seen within one ttl.
        started = self._clock()
        found: Standing | ChainFailure
        try:
            found = self._read(address)
        except (ChainUnavailable, ChainReadFailed) as err:
            found = err
        with self._lock:
            if len(self._cached) > _PRUNE_ABOVE:
                self._cached = {a: e for a, e in self._cached.items() if started - e[0] < self.ttl}
            self._cached[address] = (started, found)
            self._reading.pop(address, None)
        return found

    def _read(self, address: str) -> Standing:
        argument = encode(["address"], [address]).hex()
        calls = [("eth_call", [{"to": self.consortium.address, "data": selector + argument}, "latest"])
                 for selector in _SELECTORS]
        # Four views in one JSON-RPC batch: one round trip, where web3 would make a dozen.
        replies = (self._rpc or self.consortium.rpc).call(calls, timeout=self.timeout)
        failed = next((reply for reply in replies if reply.error or not isinstance(reply.result, str)), None)
        if failed is not None:
            raise ChainReadFailed(f"the standing of {address}", failed.message or "no result")
        auditor, coordinator, sponsor, department = (
            decode([kind], bytes.fromhex(reply.result.removeprefix("0x")))[0] for reply, (_, kind) in zip(replies, _VIEWS))
        return Standing(bool(auditor), bool(coordinator), bytes(sponsor), bytes(department))


# ---------------------------------------------------------------- a principal against its standing


def _lost(role: str, address: str) -> str:
    return {
        "consumer": f"consumer {address} is no longer registered on chain",
        "auditor": f"auditor {address} no longer holds the auditor role on chain",
        "coordinator": f"this node's account {address} no longer holds the coordinator role on chain",
    }[role]


def held(principal: Principal, standing: Standing) -> tuple[frozenset[str], frozenset[str]]:
    """The roles of ``principal`` it still holds on chain, and those it lost. Staff keep the
    department role: they are the node's department, whose membership :func:`follow` checks
    for writes; the coordinator role is the node account's and follows the chain."""
    if principal.kind == "staff":
        live = {"department"} | ({"coordinator"} if standing.coordinator else set())
    else:
        live = ({"auditor"} if standing.auditor else set()) | ({"consumer"} if standing.sponsor != ZERO32 else set())
    return principal.roles & live, principal.roles - live


def follow(principal: Principal, standing: Standing, wanted: frozenset[str], *, write: bool,
           department_id: bytes) -> Principal:
    """``principal`` with only the roles it still holds; 401 if a Sign-In with Ethereum session
    holds none any more, 403 if it lost the role ``wanted`` needs or if staff would write for a
    department that no longer counts this node's account among its own."""
    kept, lost = held(principal, standing)
    if principal.kind == "siwe" and not kept:
        raise unauthenticated("the session has ended: " + "; ".join(_lost(r, principal.address) for r in sorted(lost)))
    if wanted and not kept & wanted:
        if lost & wanted:
            raise forbidden("; ".join(_lost(r, principal.address) for r in sorted(lost & wanted)))
        raise forbidden(f"this needs the role {' or '.join(sorted(wanted))}")
    if principal.kind == "staff" and write and standing.department != department_id:
        department = principal.department or code_of(department_id)
        raise forbidden(f"department {department} no longer counts this node's account {principal.address} "
                        "as its own on chain (the department left the consortium, or the account was removed "
                        "from it): this node cannot write for it")
    return principal if not lost else replace(principal, roles=kept)


def unconfirmed(principal: Principal) -> ApiError:
    """The answer when the chain cannot tell whether ``principal`` still holds its roles."""
    return ApiError(503, "chain_unavailable",
                    f"the roles of {principal.address} cannot be confirmed on chain now; try again shortly")


# ---------------------------------------------------------------- staff accounts

def staff_allows(held: str, needed: str) -> bool:
    """Whether a staff account holding the role ``held`` may do what needs the role ``needed``:
    admin everything, every role what viewer may (read), reviewer and steward each their own."""
    return held == "admin" or held == needed or (needed == "viewer" and held in STAFF_ROLES)


@dataclass(frozen=True)
class StaffStanding:
    """What the node's database says of one staff account at one moment."""

    role: str | None
    """The account's staff role, or None if there is no such account."""
    disabled: bool
    epoch: int
    """Raised when the password changes or the account is disabled: older sessions end."""


class StaffAccounts:
    """Each staff account's :class:`StaffStanding`, read from the database when the cached one
    is older than ``ttl``; the node's own changes :meth:`forget` it at once."""

    def __init__(self, sessions: sessionmaker[Session], *, ttl: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, StaffStanding]] = {}

    def cached(self, username: str) -> StaffStanding | None:
        """The standing read less than ``ttl`` ago, or None; never reads the database."""
        with self._lock:
            entry = self._cached.get(username)
        if entry is None or self._clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def standing(self, username: str) -> StaffStanding:
        """The standing of ``username``, read now unless a fresh one is cached; blocks on a read."""
        found = self.cached(username)
        if found is not None:
            return found
        started = self._clock()
        with self.sessions() as session:
            account = session.get(StaffAccount, username)
            found = (StaffStanding(None, True, -1) if account is None
                     else StaffStanding(account.role, account.disabled, account.session_epoch))
        with self._lock:
            if len(self._cached) > _PRUNE_ABOVE:
                self._cached = {u: e for u, e in self._cached.items() if started - e[0] < self.ttl}
            self._cached[username] = (started, found)
        return found

    def forget(self, username: str) -> None:
        with self._lock:
            self._cached.pop(username, None)


def follow_staff(principal: Principal, standing: StaffStanding, needed: str | None) -> Principal:
    """``principal``, a staff session, with its account's current role; 401 if the account is
    gone or disabled or its password changed since the token was issued, 403 if its role does
    not allow what needs the staff role ``needed``."""
    username = principal.subject
    if standing.role is None:
        raise unauthenticated(f"the session has ended: there is no staff account {username} any more")
    if standing.disabled:
        raise unauthenticated(f"the session has ended: the staff account {username} is disabled")
    if standing.epoch != principal.epoch:
        raise unauthenticated(f"the session has ended: the password of {username} was changed; sign in again")
    if needed is not None and not staff_allows(standing.role, needed):
        also = "" if needed == "admin" else " (or admin)"
        raise ApiError(403, "forbidden", f"this needs the staff role {needed}{also}; {username} is {standing.role}",
                       needed_role=needed, role=standing.role)
    return principal if principal.staff_role == standing.role else replace(principal, staff_role=standing.role)
