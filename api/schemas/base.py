"""What every body of the API shares: the base models, moments in UTC, the largest numbers.

Hashes and ids are 0x-prefixed hex; addresses are checksummed; times are Unix seconds unless
named ``*_at`` as RFC 3339 date-times in UTC (:data:`UtcDateTime`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict

ADDRESS_EXAMPLE = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"
MAX_NUMBER = 10**18
"""The largest time, id or count a request names: below SQL's BIGINT, and a round number, so
that clients that read the schema's bounds as doubles (most JSON tooling) read them exactly."""
MAX_PRICE = 10**28
"""The largest price per use: below the chain's uint96, and round for the same reason."""


def _utc(moment: datetime) -> datetime:
    # SQLite gives back the UTC moments it was given without their zone; PostgreSQL, in its own.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]
"""A moment, always answered with its zone (UTC), as the OpenAPI ``date-time`` format requires."""


class Model(BaseModel):
    """Every body of the API; a moment in it is a :data:`UtcDateTime`, never a bare datetime."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, field in cls.model_fields.items():
            if field.annotation is datetime or datetime in get_args(field.annotation):
                if not any(isinstance(m, AfterValidator) and m.func is _utc for m in field.metadata):
                    raise TypeError(f"{cls.__name__}.{name}: declare moments as UtcDateTime")


class Body(Model):
    """A request body: taken as its schema says, with no conversion (``0`` is no boolean)."""

    model_config = ConfigDict(strict=True)
