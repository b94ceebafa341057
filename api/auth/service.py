"""One node's sign-in: staff act for the node's own department, whose service account signs
on-chain, within the role of their account (:data:`node.models.STAFF_ROLES`); every other role
is read from the Consortium contract when the address signs in. The roles a token names are
held against the chain (and a staff account's against the database) again on every request
(:mod:`api.sessions`): one revoked on chain, or a disabled account, stops working within
seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from api.auth import deps, routes
from api.auth.models import NonceResponse, TokenResponse
from api.auth.passwords import check_password, unknown_user_hash
from api.auth.siwe import SiweMalformed, parse_siwe
from api.auth.tokens import Principal, TokenKey
from api.errors import forbidden, unauthenticated
from api.nonces import SecretRefused, SignedSecrets
from api.sessions import ChainRoles, StaffAccounts, Standing, follow, follow_staff, unconfirmed
from ledger.deploy import Ledger, department_id
from ledger.errors import ChainReadFailed, ChainUnavailable
from node.departments import DepartmentNames
from node.keyfiles import secret_file
from node.models import StaffAccount

if TYPE_CHECKING:
    from node.service import NodeService


class Auth:
    """Sign-in, session tokens and role checks for one node's HTTP API."""

    def __init__(self, *, sessions: sessionmaker[Session], ledger: Ledger, department: str, node_address: str,
                 domain: str, chain_id: int, secret_path: Path, token_lifetime: float = 3600.0,
                 nonce_lifetime: float = 600.0, clock_skew: float = 60.0, role_ttl: float = 3.0) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.department = department
        self.department_id = department_id(department)
        self.chain = ChainRoles(ledger.consortium, ttl=role_ttl)
        self.names = DepartmentNames(lambda raw: ledger.consortium.department(raw).name, ledger.consortium.members)
        """Departments' names on chain (民政局), for every page and answer that names one."""
        self.staff = StaffAccounts(sessions, ttl=role_ttl)
        self.node_address = Web3.to_checksum_address(node_address)
        self.domain = domain
        self.chain_id = chain_id
        self.token_lifetime = token_lifetime
        self.nonce_lifetime = nonce_lifetime
        self.clock_skew = clock_skew
        self._key = secret_file(secret_path)
        self.tokens = TokenKey(self._key, f"provledger:{department}:{self.node_address}")
        self.nonces = self.single_use("siwe nonce")

    @classmethod
    def for_node(cls, node: NodeService, *, domain: str, **options: Any) -> Auth:
        return cls(sessions=node.sessions, ledger=node.ledger, department=node.settings.department_id,
                   node_address=node.sender.account.address, domain=domain, chain_id=node.sender.chain_id,
                   secret_path=node.settings.data_dir / "session.key", **options)

    # -------------------------------------------- signing in

    def single_use(self, purpose: str, payload_size: int = 0) -> SignedSecrets:
        """Single-use secrets signed with this node's key for ``purpose`` (nonces, login links)."""
        return SignedSecrets(self._key, self.sessions, purpose=purpose, payload_size=payload_size)

    def new_nonce(self) -> NonceResponse:
        """A nonce signed by this node with its expiry: handing one out writes nothing."""
        nonce, expires_at = self.nonces.issue(self.nonce_lifetime)
        return NonceResponse(nonce=nonce, expires_at=expires_at)

    def sign_in_siwe(self, message: str, signature: str) -> Principal:
        """Check a signed EIP-4361 message, spend its nonce, and read the signer's roles on-chain."""
        try:
            siwe = parse_siwe(message)
        except SiweMalformed as err:
            raise unauthenticated(str(err)) from err
        try:
            signer = Account.recover_message(encode_defunct(text=message), signature=signature)
        except Exception as err:  # eth_keys raises several types for a signature off the curve
            raise unauthenticated("the signature cannot be recovered") from err
        if signer != siwe.address:
            raise unauthenticated("the message is not signed by its address")
        if siwe.domain != self.domain:
            raise unauthenticated(f"the message is for {siwe.domain}, not {self.domain}")
        if siwe.chain_id != self.chain_id:
            raise unauthenticated(f"the message is for chain {siwe.chain_id}, not {self.chain_id}")
        now = datetime.now(timezone.utc)
        skew = timedelta(seconds=self.clock_skew)
        if siwe.expiration_time is not None and siwe.expiration_time <= now:
            raise unauthenticated("the sign-in message has expired")
        if siwe.not_before is not None and siwe.not_before > now + skew:
            raise unauthenticated("the sign-in message is not valid yet")
        if siwe.issued_at > now + skew:
            raise unauthenticated("the sign-in message is issued in the future")
        self._spend_nonce(siwe.nonce, siwe.address)
        roles = self.siwe_roles(siwe.address)
        if not roles:
            raise forbidden(f"{siwe.address} is neither a consumer nor an auditor of the consortium")
        return Principal(siwe.address, roles, None, "siwe", siwe.address)

    def siwe_roles(self, address: str) -> frozenset[str]:
        """The roles of an account signing in with Ethereum, read on-chain now."""
        roles = set()
        if self.ledger.consortium.is_auditor(address):
            roles.add("auditor")
        if any(self.ledger.consortium.sponsor_of(address)):
            roles.add("consumer")
        return frozenset(roles)

    def _spend_nonce(self, nonce: str, address: str) -> None:
        try:
            self.nonces.spend(nonce, address=address)
        except SecretRefused as refused:
            raise unauthenticated(f"the nonce {refused}") from refused

    def sign_in_staff(self, username: str, password: str) -> Principal:
        with self.sessions() as session:
            account = session.get(StaffAccount, username)
        matches = check_password(password, account.password_hash if account else unknown_user_hash())
        if account is None or not matches:
            raise unauthenticated("wrong username or password")
        if account.disabled:
            raise unauthenticated(f"the account {username} is disabled")
        roles = {"department"}
        if self.ledger.consortium.is_coordinator(self.node_address):
            roles.add("coordinator")
        return Principal(self.node_address, frozenset(roles), self.department, "staff", username,
                         staff_role=account.role, epoch=account.session_epoch)

    # -------------------------------------------- tokens

    def issue(self, principal: Principal, *, lifetime: float | None = None) -> TokenResponse:
        """A session token for ``principal``; a negative ``lifetime`` makes one already expired."""
        now = int(datetime.now(timezone.utc).timestamp())
        expires_at = now + int(self.token_lifetime if lifetime is None else lifetime)
        token = self.tokens.encode(principal, issued_at=now, expires_at=expires_at)
        return TokenResponse(token=token, expires_at=datetime.fromtimestamp(expires_at, timezone.utc),
                             roles=sorted(principal.roles), address=principal.address, department=principal.department)

    def principal_of(self, token: str) -> Principal:
        """The principal a token names, as issued: its signature and expiry checked, not the chain."""
        return self.tokens.decode(token)

    def session_of(self, token: str, wanted: frozenset[str] = frozenset(), *, write: bool = False,
                   staff: str | None = None) -> Principal:
        """The principal of ``token`` with the roles it still holds on chain (and, for staff, in
        the database), for a request that needs one of ``wanted`` (any if empty), of staff the
        role ``staff``, and, with ``write``, changes something for the department; may block on
        a chain or database read."""
        principal = self._named(self.principal_of(token), wanted)
        if principal.kind == "staff":
            principal = follow_staff(principal, self.staff.standing(principal.subject), staff)
        try:
            standing: Standing | None = self.chain.standing(principal.address)
        except (ChainUnavailable, ChainReadFailed):
            standing = None
        return self._held(principal, standing, wanted, write)

    async def held_session(self, token: str, wanted: frozenset[str], write: bool, staff: str | None) -> Principal:
        """:meth:`session_of` for the event loop: chain and database reads go to a thread, and only if not cached."""
        principal = self._named(self.principal_of(token), wanted)
        if principal.kind == "staff":
            account = self.staff.cached(principal.subject)
            if account is None:
                account = await run_in_threadpool(self.staff.standing, principal.subject)
            principal = follow_staff(principal, account, staff)
        standing = self.chain.cached(principal.address)
        if standing is None:  # read off the event loop: other requests go on meanwhile
            try:
                standing = await run_in_threadpool(self.chain.standing, principal.address)
            except (ChainUnavailable, ChainReadFailed):
                standing = None
        return self._held(principal, standing, wanted, write)

    @staticmethod
    def _named(principal: Principal, wanted: frozenset[str]) -> Principal:
        # A role the token never named needs no chain read to refuse.
        if wanted and not principal.roles & wanted:
            raise forbidden(f"this needs the role {' or '.join(sorted(wanted))}")
        return principal

    def _held(self, principal: Principal, standing: Standing | None, wanted: frozenset[str],
              write: bool) -> Principal:
        if standing is None:
            # Staff writes wait in the node's outbox for the chain, which refuses them itself if
            # the department has left; anyone else is refused until the chain confirms the roles.
            if principal.kind == "staff":
                return principal
            raise unconfirmed(principal)
        return follow(principal, standing, wanted, write=write, department_id=self.department_id)

    # -------------------------------------------- FastAPI

    def require(self, *roles: str, staff: str | None = None) -> Callable[..., Awaitable[Principal]]:
        """:func:`api.auth.deps.require` for this node."""
        return deps.require(self, *roles, staff=staff)

    def optional(self) -> Callable[..., Awaitable[Principal | None]]:
        """:func:`api.auth.deps.optional` for this node."""
        return deps.optional(self)

    def router(self) -> APIRouter:
        return routes.router(self)
