"""People signing in to the node: staff accounts and spent sign-in nonces."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from node.models.base import Base, utcnow


STAFF_ROLES = ("admin", "reviewer", "steward", "viewer")


class StaffAccount(Base):
    """A member of the department's staff, who signs in to this node with a password and acts
    within a role: ``admin`` (manages staff, may do everything), ``reviewer`` (review decisions,
    freezes), ``steward`` (datasets, versions, quality, statements) or ``viewer`` (reads)."""

    __tablename__ = "staff_accounts"
    __table_args__ = (CheckConstraint(f"role IN {STAFF_ROLES!r}", name="ck_staff_accounts_role"),)

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Raised when the password changes or the account is disabled: sessions issued before end."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SignInNonce(Base):
    """A spent single-use secret (a Sign-In with Ethereum nonce, a login link), by the SHA-256 of
    its bytes, kept until it expires (:mod:`api.nonces`): secrets handed out are not stored."""

    __tablename__ = "sign_in_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    address: Mapped[str | None] = mapped_column(String(42), nullable=True)
