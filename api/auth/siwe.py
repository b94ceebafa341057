"""Sign-In with Ethereum messages (EIP-4361), written and read.

Read by our own parser, not the ``siwe`` package: every release of it pins ``web3<8`` and
``eth-account<0.14`` (4.3-4.4: ``web3>=7.3,<8``, ``eth-account>=0.13.1,<0.14``; 4.2 and older:
``web3<7``), while this project runs on web3 8 and eth-account 0.14, so it cannot be declared
beside them. The parser below follows the EIP's ABNF instead, rule for rule (the grammar is
quoted beside each pattern), and is tested with the ``siwe`` project's own parsing vectors
(``tests/vectors/siwe``). Checking a message against this node (domain, chain id, nonce,
times, signer) is :class:`api.auth.service.Auth`'s job.

This module imports neither FastAPI nor SQLAlchemy: the CLI builds its messages with it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from eth_utils.address import is_checksum_address, to_checksum_address

DEFAULT_STATEMENT = "Sign in to the provledger node."

# ---------------------------------------------------------------- the grammar (RFC 3986, RFC 3339, EIP-4361)

# Character classes spelled out in ASCII: Python's \d and \w would also take other scripts' digits.
_UNRESERVED = r"[A-Za-z0-9\-._~]"                       # ALPHA / DIGIT / "-" / "." / "_" / "~"
_PCT = r"%[0-9A-Fa-f]{2}"                               # "%" HEXDIG HEXDIG
_SUB_DELIMS = r"[!$&'()*+,;=]"
_PCHAR = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|[:@])"
_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*"                   # ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_IP_LITERAL = rf"\[(?:[0-9A-Fa-f:.]+|[Vv][0-9A-Fa-f]+\.(?:{_UNRESERVED}|{_SUB_DELIMS}|:)+)\]"
_HOST = rf"(?:{_IP_LITERAL}|(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS})*)"  # IP-literal / IPv4address / reg-name
_AUTHORITY = rf"(?:(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|:)*@)?{_HOST}(?::[0-9]*)?"  # [ userinfo "@" ] host [ ":" port ]
_SEGMENT, _SEGMENT_NZ = rf"{_PCHAR}*", rf"{_PCHAR}+"
_HIER_PART = (rf"(?://{_AUTHORITY}(?:/{_SEGMENT})*"        # "//" authority path-abempty
              rf"|/(?:{_SEGMENT_NZ}(?:/{_SEGMENT})*)?"     # / path-absolute
              rf"|{_SEGMENT_NZ}(?:/{_SEGMENT})*"           # / path-rootless
              r"|)")                                       # / path-empty
_URI = rf"{_SCHEME}:{_HIER_PART}(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
# date-time = full-date "T" full-time; ABNF strings match either case, hence [Tt] and [Zz].
_DATE_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+\-][0-9]{2}:[0-9]{2})"
_STATEMENT = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;= ]*"    # *( reserved / unreserved / " " )

_MESSAGE = re.compile(
    rf"(?:{_SCHEME}://)?(?P<domain>{_AUTHORITY}) wants you to sign in with your Ethereum account:\n"
    r"(?P<address>0x[0-9A-Fa-f]{40})\n"
    r"\n"
    rf"(?:(?P<statement>{_STATEMENT})\n)?"
    r"\n"
    rf"URI: (?P<uri>{_URI})\n"
    r"Version: (?P<version>1)\n"
    r"Chain ID: (?P<chain_id>[0-9]+)\n"
    r"Nonce: (?P<nonce>[A-Za-z0-9]{8,})\n"
    rf"Issued At: (?P<issued_at>{_DATE_TIME})"
    rf"(?:\nExpiration Time: (?P<expiration_time>{_DATE_TIME}))?"
    rf"(?:\nNot Before: (?P<not_before>{_DATE_TIME}))?"
    rf"(?:\nRequest ID: (?P<request_id>{_PCHAR}*))?"
    rf"(?:\nResources:(?P<resources>(?:\n- {_URI})*))?")
_STATEMENT_LINE = re.compile(_STATEMENT)
_FIELDS = {"URI": _URI, "Version": "1", "Chain ID": "[0-9]+", "Nonce": "[A-Za-z0-9]{8,}", "Issued At": _DATE_TIME,
           "Expiration Time": _DATE_TIME, "Not Before": _DATE_TIME, "Request ID": rf"{_PCHAR}*"}
_IPV6_LITERAL = re.compile(r"\[([0-9A-Fa-f:.]+)\]")
_FIRST_LINE = re.compile(rf"(?:{_SCHEME}://)?{_AUTHORITY} wants you to sign in with your Ethereum account:")


class SiweMalformed(ValueError):
    """A message off the EIP-4361 grammar; ``reason`` says where."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the sign-in message is malformed: {reason}")


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


def _date_time(value: str, field: str) -> datetime:
    # The grammar has checked the shape; datetime checks the ranges (month 13, hour 25, ...).
    whole, dot, rest = value.upper().partition(".")
    if dot:
        digits = re.match(r"[0-9]+", rest)
        assert digits is not None
        whole += "." + digits[0][:6].ljust(6, "0") + rest[len(digits[0]):]
    try:
        return datetime.fromisoformat(whole.replace("Z", "+00:00"))
    except ValueError as err:
        raise SiweMalformed(f"{field} is not a valid RFC 3339 date-time") from err


def _where(text: str) -> str:
    """Where a message leaves the grammar, as far as a line-by-line look can tell."""
    lines = text.split("\n")
    if not _FIRST_LINE.fullmatch(lines[0]):
        return "the first line must be '<domain> wants you to sign in with your Ethereum account:'"
    if len(lines) < 2 or not re.fullmatch(r"0x[0-9A-Fa-f]{40}", lines[1]):
        return "the second line must be an address"
    fields = dict(line.split(": ", 1) for line in lines[3:] if ": " in line and not line.startswith("- "))
    for name, pattern in _FIELDS.items():
        if name in fields and not re.fullmatch(pattern, fields[name]):
            return f"the {name} is off the EIP-4361 grammar"
    for name in ("URI", "Version", "Chain ID", "Nonce", "Issued At"):
        if name not in fields:
            return f"'{name}: ' is missing"
    return "a line is out of place or has a value off the EIP-4361 grammar"


def parse_siwe(text: str) -> SiweMessage:
    """Read an EIP-4361 message; :class:`SiweMalformed` if it is off the grammar, its address
    not EIP-55 checksummed, or a date-time not a real moment."""
    match = _MESSAGE.fullmatch(text)
    if match is None:
        raise SiweMalformed(_where(text))
    address = match["address"]
    if not is_checksum_address(address):
        raise SiweMalformed("the address must be EIP-55 checksummed")
    resources = tuple(line[2:] for line in (match["resources"] or "").split("\n") if line)
    for field in (match["domain"], match["uri"], *resources):
        for literal in _IPV6_LITERAL.finditer(field):
            try:
                ipaddress.IPv6Address(literal[1])
            except ValueError as err:
                raise SiweMalformed(f"[{literal[1]}] is not an IPv6 address") from err
    chain_id = match["chain_id"]
    if len(chain_id) > 20:  # far beyond any chain id; keeps int() of a huge number out
        raise SiweMalformed("Chain ID is out of range")
    times = {group: _date_time(match[group], label) if match[group] is not None else None
             for group, label in (("issued_at", "Issued At"), ("expiration_time", "Expiration Time"),
                                  ("not_before", "Not Before"))}
    issued_at = times["issued_at"]
    assert issued_at is not None
    return SiweMessage(
        domain=match["domain"], address=address, statement=match["statement"], uri=match["uri"],
        chain_id=int(chain_id), nonce=match["nonce"], issued_at=issued_at,
        expiration_time=times["expiration_time"], not_before=times["not_before"],
        request_id=match["request_id"], resources=resources)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def siwe_message(domain: str, address: str, uri: str, chain_id: int, nonce: str, issued_at: datetime,
                 expiration: datetime | None = None, statement: str | None = DEFAULT_STATEMENT, *,
                 not_before: datetime | None = None, request_id: str | None = None,
                 resources: Sequence[str] = ()) -> str:
    """A well-formed EIP-4361 message for ``address`` to sign (``personal_sign``)."""
    if statement is not None and not _STATEMENT_LINE.fullmatch(statement):
        raise ValueError("the statement must be one line of ASCII letters, digits, spaces and URI punctuation")
    lines = [f"{domain} wants you to sign in with your Ethereum account:", to_checksum_address(address), ""]
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
