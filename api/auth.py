"""Who is calling: sign-in for department staff (password) and for consumers and auditors
(Sign-In with Ethereum, EIP-4361), then a signed session token carried as ``Bearer``.

Staff act for the node's own department, whose service account signs on-chain, within the
role of their account (:data:`node.models.STAFF_ROLES`); every other role is read from the
Consortium contract when the address signs in. Tokens are stateless: HMAC-SHA256 under a key
kept in the node's data directory, so a node restart keeps them valid and deleting the key ends
every session. The roles a token names are held against the chain (and a staff account's
against the database) again on every request (:mod:`api.sessions`): one revoked on chain, or a
disabled account, stops working within seconds.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import APIRouter, Depends, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from api.errors import MAYBE_SIGNED_IN, SIGNED_IN, ApiError, ErrorResponse, answers, forbidden, unauthenticated
from api.limits import staff_attempt
from api.nonces import SecretRefused, SignedSecrets
from api.sessions import WRITES, ChainRoles, StaffAccounts, Standing, follow, follow_staff, unconfirmed
from ledger.deploy import Ledger, department_id
from ledger.errors import ChainUnavailable
from node.errors import InvalidInput
from node.models import STAFF_ROLES, StaffAccount

if TYPE_CHECKING:
    from node.service import NodeService

ROLES = frozenset({"department", "coordinator", "consumer", "auditor"})
Kind = Literal["staff", "siwe"]

# ---------------------------------------------------------------- staff passwords

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * n * r + 2**20)


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh random salt (base64 parts)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def check_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash``; compares in constant time."""
    try:
        scheme, n, r, p, salt, digest = password_hash.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _unknown_user_hash() -> str:
    """Checked against when the username is unknown, so that a miss takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


# ---------------------------------------------------------------- EIP-4361 messages

_HEADER = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://)?(?P<domain>[^\s/?#]+)"
                     r" wants you to sign in with your Ethereum account:")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE = re.compile(r"[A-Za-z0-9]{8,64}")
_REQUIRED = ("URI", "Version", "Chain ID", "Nonce", "Issued At")
_OPTIONAL = ("Expiration Time", "Not Before", "Request ID")
DEFAULT_STATEMENT = "Sign in to the provledger node."


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    statement: str | None
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()


def _rfc3339(value: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in value:
        raise unauthenticated(f"the sign-in message's {field} is not an RFC 3339 date-time")
    return moment


def _format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_siwe(text: str) -> SiweMessage:
    """Read an EIP-4361 message; anything off the grammar is a failed sign-in (401)."""
    lines = text.split("\n")

    def line(i: int) -> str | None:
        return lines[i] if i < len(lines) else None

    def malformed(reason: str) -> ApiError:
        return unauthenticated(f"the sign-in message is malformed: {reason}")

    header = _HEADER.fullmatch(lines[0])
    if header is None:
        raise malformed("the first line must be '<domain> wants you to sign in with your Ethereum account:'")
    address = line(1)
    if address is None or not _ADDRESS.fullmatch(address) or not Web3.is_checksum_address(address):
        raise malformed("the second line must be an EIP-55 checksummed address")
    if line(2) != "":
        raise malformed("an empty line must follow the address")
    i, statement = 3, None
    if line(i) == "":  # EIP-4361: no statement leaves two empty lines
        i += 1
    elif line(i) is not None and not str(line(i)).startswith("URI: "):
        statement, i = line(i), i + 1
        if line(i) != "":
            raise malformed("an empty line must follow the statement")
        i += 1
    fields: dict[str, str] = {}
    for name in _REQUIRED + _OPTIONAL:
        current = line(i)
        if current is not None and current.startswith(f"{name}: "):
            fields[name], i = current[len(name) + 2:], i + 1
        elif name in _REQUIRED:
            raise malformed(f"'{name}: ' expected on line {i + 1}")
    resources: list[str] = []
    if line(i) == "Resources:":
        i += 1
        while (current := line(i)) is not None and current.startswith("- "):
            resources.append(current[2:])
            i += 1
    if i != len(lines):
        raise malformed(f"unexpected text on line {i + 1}")
    if fields["Version"] != "1":
        raise malformed("Version must be 1")
    if not fields["Chain ID"].isascii() or not fields["Chain ID"].isdigit() or len(fields["Chain ID"]) > 20:
        raise malformed("Chain ID must be a decimal number")
    if not _NONCE.fullmatch(fields["Nonce"]):
        raise malformed("Nonce must be 8 to 64 letters and digits")
    optional_time = {name: _rfc3339(fields[name], name) if name in fields else None
                     for name in ("Expiration Time", "Not Before")}
    return SiweMessage(
        domain=header["domain"], address=address, statement=statement, uri=fields["URI"],
        chain_id=int(fields["Chain ID"]), nonce=fields["Nonce"],
        issued_at=_rfc3339(fields["Issued At"], "Issued At"), expiration_time=optional_time["Expiration Time"],
        not_before=optional_time["Not Before"], request_id=fields.get("Request ID"), resources=tuple(resources),
    )


def siwe_message(domain: str, address: str, uri: str, chain_id: int, nonce: str, issued_at: datetime,
                 expiration: datetime | None = None, statement: str | None = DEFAULT_STATEMENT, *,
                 not_before: datetime | None = None, request_id: str | None = None,
                 resources: Sequence[str] = ()) -> str:
    """A well-formed EIP-4361 message for ``address`` to sign (``personal_sign``)."""
    if statement is not None and "\n" in statement:
        raise ValueError("the statement must be one line")
    lines = [f"{domain} wants you to sign in with your Ethereum account:", Web3.to_checksum_address(address), ""]
    lines += [statement, ""] if statement is not None else [""]
    lines += [f"URI: {uri}", "Version: 1", f"Chain ID: {chain_id}", f"Nonce: {nonce}",
              f"Issued At: {_format_time(issued_at)}"]
    if expiration is not None:
        lines.append(f"Expiration Time: {_format_time(expiration)}")
    if not_before is not None:
        lines.append(f"Not Before: {_format_time(not_before)}")
    if request_id is not None:
        lines.append(f"Request ID: {request_id}")
    if resources:
        lines += ["Resources:", *(f"- {resource}" for resource in resources)]
    return "\n".join(lines)


# ---------------------------------------------------------------- session tokens


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: an address, its roles, and the department it acts for, if any."""

    address: str
    roles: frozenset[str]
    department: str | None
    kind: Kind
    subject: str
    """The staff username, or the address for Sign-In with Ethereum."""
    staff_role: str | None = None
    """Staff only: the account's role, as the database holds it now once the session is followed."""
    epoch: int = 0
    """Staff only: the account's session epoch when the token was issued."""


def session_key(path: Path) -> bytes:
    """The node's token key: 32 random bytes made on first use, readable only by the node."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside then linked, so a racing process never reads a half-written key.
        staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    key = path.read_bytes()
    if len(key) != 32:
        raise InvalidInput("session key", f"{path} must hold 32 bytes")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def encode_token(key: bytes, principal: Principal, *, issued_at: int, expires_at: int) -> str:
    claims = {"sub": principal.subject, "addr": principal.address, "roles": sorted(principal.roles),
              "dept": principal.department, "kind": principal.kind, "iat": issued_at, "exp": expires_at,
              "jti": secrets.token_urlsafe(12)}
    if principal.kind == "staff":
        claims |= {"srole": principal.staff_role, "sep": principal.epoch}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_sign(key, payload)}"


def decode_token(key: bytes, token: str, *, now: float) -> Principal:
    """The principal of a token this key signed and that has not expired; 401 otherwise."""
    payload, _, signature = token.partition(".")
    # The signature is compared as text: base64 decoding would ignore a flipped padding bit.
    if not payload.isascii() or not hmac.compare_digest(_sign(key, payload).encode(), signature.encode()):
        raise unauthenticated("the session token is not valid")
    try:
        claims: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        principal = Principal(address=claims["addr"], roles=frozenset(claims["roles"]) & ROLES,
                              department=claims["dept"], kind=claims["kind"], subject=claims["sub"],
                              staff_role=claims.get("srole"), epoch=claims.get("sep", 0))
        expires_at = claims["exp"]
        well_formed = (isinstance(principal.address, str) and isinstance(principal.subject, str)
                       and isinstance(principal.department, (str, type(None))) and principal.kind in ("staff", "siwe")
                       and isinstance(expires_at, int) and isinstance(principal.epoch, int)
                       and (principal.staff_role is None
                            or (principal.kind == "staff" and principal.staff_role in STAFF_ROLES)))
    except (ValueError, KeyError, TypeError):
        well_formed = False
    if not well_formed:
        raise unauthenticated("the session token is malformed")
    if expires_at <= now:
        raise unauthenticated("the session token has expired")
    return principal


# ---------------------------------------------------------------- request and response bodies


class NonceResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"nonce": "q8Fz3LkR0vYb2WxN7hTa", "expires_at": "2025-05-01T08:10:00Z"}]})

    nonce: str = Field(description="put it in the Nonce field of the message; it works once")
    expires_at: datetime


class SiweSignIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "message": siwe_message("127.0.0.1:8000", "0x" + "ab" * 20, "http://127.0.0.1:8000", 31337,
                                "q8Fz3LkR0vYb2WxN7hTa", datetime(2025, 5, 1, 8, 0, tzinfo=timezone.utc)),
        "signature": "0x" + "1b" * 65}]})

    message: str = Field(min_length=1, max_length=4096, description="the EIP-4361 message, exactly as signed")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="its personal_sign signature")


class StaffSignIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"username": "reviewer.li", "password": "correct horse battery staple"}]})

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token": "eyJzdWIiOiIweEFi...In0.k3Xc9...", "token_type": "bearer", "expires_at": "2025-05-01T09:00:00Z",
        "roles": ["consumer"], "address": "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01", "department": None}]})

    token: str = Field(description="send it as 'Authorization: Bearer <token>'")
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    roles: list[str]
    address: str
    department: str | None


class PrincipalResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "address": "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01", "roles": ["auditor"], "department": None,
        "kind": "siwe", "subject": "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01", "staff_role": None}]})

    address: str
    roles: list[str]
    department: str | None
    kind: Kind
    subject: str
    staff_role: str | None = Field(description="staff only: what the account may do on this node: admin, "
                                               "reviewer, steward or viewer")


_UNAUTHENTICATED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no session, or a bad or expired one"}}
_FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "signed in, but without the role this needs"}}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "the request body is malformed"}}


# ---------------------------------------------------------------- the node's sign-in


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
        self.staff = StaffAccounts(sessions, ttl=role_ttl)
        self.node_address = Web3.to_checksum_address(node_address)
        self.domain = domain
        self.chain_id = chain_id
        self.token_lifetime = token_lifetime
        self.nonce_lifetime = nonce_lifetime
        self.clock_skew = clock_skew
        self._key = session_key(secret_path)
        self.nonces = self.single_use("siwe nonce")
        self._bearer = HTTPBearer(auto_error=False, scheme_name="session",
                                  description="a token from POST /auth/siwe or POST /auth/staff")

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
        siwe = parse_siwe(message)
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
        matches = check_password(password, account.password_hash if account else _unknown_user_hash())
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
        token = encode_token(self._key, principal, issued_at=now, expires_at=expires_at)
        return TokenResponse(token=token, expires_at=datetime.fromtimestamp(expires_at, timezone.utc),
                             roles=sorted(principal.roles), address=principal.address, department=principal.department)

    def principal_of(self, token: str) -> Principal:
        """The principal a token names, as issued: its signature and expiry checked, not the chain."""
        return decode_token(self._key, token, now=datetime.now(timezone.utc).timestamp())

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
        except ChainUnavailable:
            standing = None
        return self._held(principal, standing, wanted, write)

    async def _session(self, token: str, wanted: frozenset[str], write: bool, staff: str | None) -> Principal:
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
            except ChainUnavailable:
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
        """A dependency giving the signed-in principal, with at least one of ``roles`` if any
        are named and still held on chain, and, if it is staff, an enabled account whose staff
        role allows ``staff`` (which a route open to the department or the coordinator must
        name): 401 without a valid token, once a Sign-In with Ethereum session holds no role on
        chain, or once the staff account is disabled or its password changed; 403 without the
        role; 503 if the chain cannot confirm it."""
        unknown = set(roles) - ROLES
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        if staff is not None and staff not in STAFF_ROLES:
            raise ValueError(f"unknown staff role {staff!r}")
        if staff is None and {"department", "coordinator"} & set(roles):
            raise ValueError("a route open to staff names the staff role it needs: require(..., staff=...)")
        wanted = frozenset(roles)

        async def signed_in(request: Request,
                            credentials: HTTPAuthorizationCredentials | None = Security(self._bearer)) -> Principal:
            if credentials is None:
                raise unauthenticated("sign in first: send 'Authorization: Bearer <token>'")
            return await self._session(credentials.credentials, wanted, request.method in WRITES, staff)

        return answers(signed_in, SIGNED_IN)

    def optional(self) -> Callable[..., Awaitable[Principal | None]]:
        """A dependency giving the principal if a token is sent, else None; a bad or ended session is still 401."""

        async def maybe_signed_in(
                credentials: HTTPAuthorizationCredentials | None = Security(self._bearer)) -> Principal | None:
            if credentials is None:
                return None
            return await self._session(credentials.credentials, frozenset(), False, None)

        return answers(maybe_signed_in, MAYBE_SIGNED_IN)

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/auth", tags=["auth"])

        @router.get("/nonce", summary="A single-use nonce for a Sign-In with Ethereum message")
        def nonce(response: Response) -> NonceResponse:
            response.headers["Cache-Control"] = "no-store"
            return self.new_nonce()

        @router.post("/siwe", summary="Sign in with an EIP-4361 message signed by the account",
                     responses={**_UNAUTHENTICATED, **_FORBIDDEN, **_INVALID})
        def siwe(body: SiweSignIn, response: Response) -> TokenResponse:
            response.headers["Cache-Control"] = "no-store"
            return self.issue(self.sign_in_siwe(body.message, body.signature))

        @router.post("/staff", summary="Sign in as department staff of this node",
                     responses={**_UNAUTHENTICATED, **_INVALID})
        def staff(body: StaffSignIn, request: Request, response: Response) -> TokenResponse:
            response.headers["Cache-Control"] = "no-store"
            with staff_attempt(request, body.username):
                return self.issue(self.sign_in_staff(body.username, body.password))

        @router.get("/me", summary="Who the session token belongs to", responses=_UNAUTHENTICATED)
        async def me(principal: Principal = Depends(self.require())) -> PrincipalResponse:
            return PrincipalResponse(address=principal.address, roles=sorted(principal.roles),
                                     department=principal.department, kind=principal.kind, subject=principal.subject,
                                     staff_role=principal.staff_role)

        return router
