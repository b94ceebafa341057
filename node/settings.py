"""The settings of one department's node, read from the environment (``PROVLEDGER_*``) or a
``.env`` file and validated when the node starts."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from node.datakey import KeySecret, key_file_secret
from node.errors import SettingsInvalid
from node.private import make_private

_DEMO_PASSPHRASES = {"", "changeme", "change-me", "password", "provledger"}


class NodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROVLEDGER_", env_file=".env", extra="ignore")

    department_id: str = Field(min_length=1, max_length=31, description="the department's code, e.g. stats-bureau")
    chain_url: str = "http://127.0.0.1:8545"
    geth_ipc: Path | None = Field(default=None, description="the department's geth IPC socket, when it runs one: "
                                  "where GET /consortium reads the current Clique signers")
    manifest_path: Path = Path("deployment.json")
    keystore_path: Path
    passphrase: SecretStr | None = Field(default=None, description="the keystore passphrase itself")
    passphrase_file: Path | None = Field(default=None, description="or a file holding it (e.g. a mounted secret)")
    data_dir: Path = Path("data")
    data_key_file: Path | None = Field(default=None, description=(
        "a file of at least 32 secret bytes the node's data key is kept wrapped under; default: the keystore "
        "passphrase (see node.datakey)"))
    database_url: str | None = Field(default=None, description="default: a SQLite file in data_dir")
    confirmations: int = Field(default=1, ge=0, le=1000)
    anchor_batch_size: int = Field(default=1000, ge=1)
    anchor_interval: float = Field(default=5.0, gt=0)
    allow_demo_passphrase: bool = False
    # Backpressure and supervision (node.health, node.supervision).
    max_backlog: int = Field(default=1000, ge=1, description=(
        "open chain writes in the outbox above which the API refuses deliveries and other writes with 503"))
    stall_after: float = Field(default=30.0, gt=0, le=3600, description=(
        "seconds the outbox or indexer may go without a successful step before writes are refused with 503"))
    retry_cap: float = Field(default=10.0, gt=0, le=600, description=(
        "longest wait between two tries of a failing background step (the backoff doubles from 0.5 s up to it)"))
    health_timeout: float = Field(default=2.0, gt=0, le=30, description=(
        "seconds /health and the write gate wait for the chain before calling it unreachable"))
    retry_after: int = Field(default=5, ge=1, le=3600, description="the Retry-After of a 503, in seconds")
    head_poll: float = Field(default=0.5, gt=0, le=60, description=(
        "seconds between the indexer's looks at the chain's head while nothing is new: bounds the index's lag"))
    idle_max: float = Field(default=10.0, gt=0, le=600, description=(
        "longest wait of the idle outbox, monitor and anchoring between two looks for work (at most a third of "
        "stall_after): work queued in this node wakes them at once"))

    # The API's open doors, per client address ("N/second|minute|hour", moving windows).
    rate_sign_in: str = Field(default="60/minute", description="POST /auth/siwe, /auth/staff and the dashboard's "
                              "sign-in forms and login links, per client address")
    rate_staff_user: str = Field(default="10/minute", description="staff sign-in attempts per username, from anywhere: "
                                 "each costs the node a 16 MiB scrypt")
    rate_nonce: str = Field(default="120/minute", description="GET /auth/nonce, per client address")
    rate_anonymous: str = Field(default="600/minute", description="requests without a session to the catalog, "
                                "DCAT, open downloads and /health, per client address")
    rate_query: str = Field(default="120/minute", description="aggregate queries sent (POST /grants/{id}/queries "
                            "and the dashboard's query form), per client address: each refused one is a write on chain")
    max_upload_bytes: int = Field(default=1 << 30, ge=1, description="the largest dataset version an upload may send")
    metrics_public: bool = Field(default=False, description="serve /metrics without a staff session")
    delivery_keep_after_download: float = Field(
        default=900.0, gt=0, description="seconds a delivered copy stays on disk after its first complete download")
    delivery_keep_undownloaded: float = Field(
        default=7 * 86400.0, gt=0, description="seconds a delivered copy that is never downloaded stays on disk")
    open_download_batch: int = Field(default=1000, ge=1, description="open downloads rolled into one anchored item")
    open_download_interval: float = Field(default=60.0, gt=0,
                                          description="seconds an open download waits at most for its anchored item")

    @field_validator("rate_sign_in", "rate_staff_user", "rate_nonce", "rate_anonymous", "rate_query")
    @classmethod
    def _rate(cls, value: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]{0,8}/(second|minute|hour|day)", value):
            raise ValueError("must read N/second, N/minute, N/hour or N/day")
        return value

    @field_validator("chain_url")
    @classmethod
    def _chain_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) JSON-RPC URL")
        return value

    @model_validator(mode="after")
    def _one_passphrase_source(self) -> NodeSettings:
        if (self.passphrase is None) == (self.passphrase_file is None):
            raise ValueError("give exactly one of passphrase and passphrase_file")
        return self

    @property
    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'node.db').resolve()}"

    def keystore_passphrase(self) -> str:
        """The passphrase, refusing the well-known demo ones unless explicitly allowed."""
        if self.passphrase is not None:
            secret = self.passphrase.get_secret_value()
        else:
            assert self.passphrase_file is not None
            try:
                secret = self.passphrase_file.read_text().strip()
            except OSError as err:
                raise SettingsInvalid("passphrase_file", f"cannot read {self.passphrase_file}: {err}") from err
        if secret in _DEMO_PASSPHRASES and not self.allow_demo_passphrase:
            raise SettingsInvalid("passphrase", "a default passphrase is refused outside demos")
        return secret

    def data_key_secret(self) -> KeySecret:
        """What the node's data key is kept wrapped under: the key file if one is set, else the
        keystore passphrase."""
        if self.data_key_file is not None:
            return key_file_secret(self.data_key_file)
        setting = "passphrase" if self.passphrase is not None else "passphrase_file"
        return KeySecret("passphrase", self.keystore_passphrase().encode(), setting)

    def prepare(self) -> NodeSettings:
        """Create the data directory, private to the node's user like everything the node will
        write (:mod:`node.private`), and check the keystore exists: call once at start."""
        make_private(self.data_dir)
        if not self.keystore_path.is_file():
            raise SettingsInvalid("keystore_path", f"{self.keystore_path} is not a file")
        if not os.access(self.keystore_path, os.R_OK):
            raise SettingsInvalid("keystore_path", f"{self.keystore_path} is not readable")
        return self


def startup_error(err: ValidationError | SettingsInvalid | Exception) -> str:
    """The one line a command prints when a node cannot start: the first bad setting, or why."""
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        return f"error: setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return f"error: {err}"
