"""ε in exact integers: micro-ε (1 ε = 1,000,000) is the one unit of privacy budget on chain, in
SQL and in Python, so a grant's accounting is integer addition that never rounds.

Text is how people write ε ("0.5", "1", "2.25"): :func:`epsilon_micro` reads it, refusing what
micro-ε cannot hold exactly rather than rounding a consumer's request; :func:`epsilon_text`
writes it back, the shortest decimal that reads the same. :func:`split` shares a query's ε among
the aggregates it releases, in whole micro-ε that add up to exactly what was spent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from node.errors import InvalidInput

MICRO = 1_000_000
"""micro-ε per ε."""
MAX_MICRO = 2**64 - 1
"""The most micro-ε a value may hold: the chain keeps ε in a ``uint64``."""


def epsilon_micro(value: str | Decimal) -> int:
    """``value`` (ε as text such as ``"0.5"``, or a :class:`~decimal.Decimal`) in micro-ε.

    Refused (:class:`~node.errors.InvalidInput` on ``epsilon``) when it is not a finite number,
    not above zero (no release is noise-free), finer than one micro-ε (rounding would spend
    other than what was asked), or beyond what the chain's ``uint64`` holds."""
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput("epsilon", f"{value!r} is not a number") from None
    if not number.is_finite():
        raise InvalidInput("epsilon", f"{value!r} is not a finite number")
    if number <= 0:
        raise InvalidInput("epsilon", f"must be above zero, not {value}: no result is released without noise")
    micro = number * MICRO
    if micro != micro.to_integral_value():
        raise InvalidInput("epsilon", f"{value} is finer than one micro-ε (0.000001)")
    if micro > MAX_MICRO:
        raise InvalidInput("epsilon", f"{value} is more than the chain can hold ({epsilon_text(MAX_MICRO)})")
    return int(micro)


def epsilon_text(micro: int) -> str:
    """``micro`` micro-ε as the shortest decimal text of ε (``500000`` -> ``"0.5"``, ``3000000``
    -> ``"3"``); :func:`epsilon_micro` reads it back to ``micro``."""
    if micro < 0:
        raise InvalidInput("epsilon", f"{micro} micro-ε is below zero")
    whole, fraction = divmod(micro, MICRO)
    return f"{whole}.{fraction:06d}".rstrip("0") if fraction else str(whole)


def split(epsilon: int, parts: int) -> list[int]:
    """``epsilon`` micro-ε shared among ``parts`` releases as evenly as whole micro-ε allow (the
    first ones get the remainder), summing to exactly ``epsilon``.

    Refused when a part would get nothing: a release with ε = 0 would need infinite noise."""
    if parts < 1:
        raise InvalidInput("epsilon", f"cannot be split into {parts} parts")
    if epsilon < parts:
        raise InvalidInput("epsilon", f"{epsilon} micro-ε cannot give each of {parts} released aggregates "
                                      "at least one micro-ε; spend more or release fewer")
    share, rest = divmod(epsilon, parts)
    return [share + 1] * rest + [share] * (parts - rest)
