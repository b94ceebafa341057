"""One-time login links: a browser without a wallet signs in as an account that signed in with
Ethereum elsewhere (``provledger login`` signs with the keystore, then asks for a link).

A link's secret is a single-use secret of :mod:`api.nonces` carrying the address it signs in
and its expiry, signed by the node: issuing one writes nothing, redeeming one records it spent.
The secret travels in the link's fragment (``/dashboard/login#<secret>``), which browsers never
send: the page's script posts it, so it never reaches an access log, a proxy or a Referer.
"""

from __future__ import annotations

from datetime import datetime

from web3 import Web3

from api.nonces import SecretRefused, SignedSecrets

LIFETIME = 120.0
"""Seconds a link stays valid: long enough to paste it into a browser, not much longer."""


class LoginLinks:
    def __init__(self, secrets: SignedSecrets, *, lifetime: float = LIFETIME) -> None:
        if secrets.payload_size != 20:
            raise ValueError("login link secrets carry a 20-byte address")
        self.secrets = secrets
        self.lifetime = lifetime

    def issue(self, address: str) -> tuple[str, datetime]:
        """A new link secret for ``address``, and when it expires."""
        return self.secrets.issue(self.lifetime, bytes.fromhex(address.removeprefix("0x")))

    def redeem(self, secret: str) -> str | None:
        """The address the link was issued for, the first time it is used before it expires; else None."""
        try:
            address = self.secrets.spend(secret)
        except SecretRefused:
            return None
        return Web3.to_checksum_address(address)
