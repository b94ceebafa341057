"""The one home of every personal-data rule: field classes, the shape of each class's values
(ID-number check character, mobile and bank-card numbers, email), and what of a value stays
visible when it is masked.

Numbers may be grouped by spaces or hyphens (``SEPARATORS``): shapes are judged on the other
symbols, and masks keep the separators where they are.

Shapes (:func:`has_shape`): an ID number carries the GB 11643-1999 check character and a real
birth date, not after ``latest`` when given; region and sequence codes are not looked up
(:func:`id_number_problem` says which of these fails, in words that never repeat the number). A
mobile number is 11 digits starting ``1[3-9]``; a bank card 13 to 19 digits passing the Luhn
check; an email one ``@`` between a local part and a dotted domain; a name 1 to 64 characters
and no digit; an address at least 4 characters. Plain text is always valid.

One person, however the number is written (:func:`id_number_key`, :func:`checked_id_number`):
full-width digits and ``Ｘ``, a lower-case ``x``, spaces anywhere (ideographic ones too) and
hyphens are read away, and a first-generation 15-digit number is read as its 18-character
upgrade (``19`` inserted after the 6-digit area code, the check character computed), as the
public security bureaus upgraded them. The shapes above judge a value as written (a full-width
number is a quality problem of the data); finding a person does not.

Masks (:func:`mask_value`) keep only what lets a person tell records apart or check a value by
hand, never enough to recover it:

- ID number: 18 characters keep the first 6 and last 4, hiding the birth date and most of the
  sequence; the old 15-digit form keeps the first 6 and last 3.
- mobile: keeps the first 3 and last 4 digits.
- bank card: keeps the first 6 (the issuer) and last 4.
- name: each word keeps its first character (``张三`` -> ``张*``, ``Li Lei`` -> ``L* L**``); a
  name starting with a compound surname (:data:`COMPOUND_SURNAMES`) keeps both of its
  characters when more follow (``司马筠菊`` -> ``司马**``): masking keeps the surname.
- address: keeps its first 6 characters, but never more than half of it: addresses written
  from province down to door keep the region and hide the street and number.
- email: keeps the first character of the local part and the whole domain.

A value that does not have its class's shape (the character pattern; masking does not check
check digits) is masked whole, so a mislabelled or malformed cell never leaks; so is any
one-character name or local part. Masks keep the value's length (names also squeeze runs of
whitespace).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from enum import Enum

MASK = "*"
ADDRESS_KEPT = 6


class FieldClass(Enum):
    """What kind of personal data a field holds, which decides its shape and what of it stays visible."""

    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    NAME = "name"
    ADDRESS = "address"
    EMAIL = "email"
    BANK_CARD = "bank_card"
    PLAIN = "plain"


NOUNS = {
    FieldClass.ID_NUMBER: "an ID number",
    FieldClass.MOBILE: "a mobile number",
    FieldClass.NAME: "a name",
    FieldClass.ADDRESS: "an address",
    FieldClass.EMAIL: "an email address",
    FieldClass.BANK_CARD: "a bank card number",
    FieldClass.PLAIN: "plain text",
}
"""Each class in words, as in "non-empty values are not an ID number"."""


# ---------------------------------------------------------------- shapes

SEPARATORS = frozenset(" -")
# GB 11643-1999 writes the check character ten as the Roman numeral X, a capital: the pattern
# says so. People also type a lower-case x; it is read as the same character by upper-casing the
# number first (see ``symbols(..., upper=True)``), never by widening the pattern.
ID_18 = re.compile(r"[0-9]{17}[0-9X]")
ID_15 = re.compile(r"[0-9]{15}")
MOBILE = re.compile(r"1[3-9][0-9]{9}")
BANK_CARD = re.compile(r"[0-9]{13,19}")
EMAIL = re.compile(r"([^@\s]+)@([^@\s]+\.[^@\s]+)")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Older than anyone alive when the 18-character number was introduced in 1999.
_EARLIEST_BIRTH = date(1850, 1, 1)


def symbols(text: str, *, upper: bool = False) -> str:
    """``text`` without its grouping separators (upper-cased if ``upper``)."""
    kept = "".join(c for c in text if c not in SEPARATORS)
    return kept.upper() if upper else kept


def id_check_character(body: str) -> str:
    """The GB 11643-1999 check character (``0``-``9`` or ``X``) of the 17 digits ``body``."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def _born(yyyymmdd: str, latest: date | None) -> bool:
    try:
        birth = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return _EARLIEST_BIRTH <= birth and (latest is None or birth <= latest)


def _id_problem(number: str, latest: date | None) -> str | None:
    """Why the symbols ``number`` are no resident ID number, or None; never repeats them."""
    if not number:
        return "is empty"
    if ID_18.fullmatch(number):
        if number[17] != id_check_character(number[:17]):
            return ("has a check character (the last) that does not agree with its first 17 digits "
                    "(GB 11643-1999): a character is mistyped")
        birth = number[6:14]
    elif ID_15.fullmatch(number):
        # The 15-digit form was issued before 2000 and writes the year of birth with two digits.
        birth = "19" + number[6:12]
    elif len(number) in (15, 18):
        return ("is not a resident ID number: it holds a character other than digits "
                "(only the 18th may be X)")
    else:
        return (f"is not a resident ID number: {len(number)} characters, not 18 (or 15 in the first-generation "
                "form)")
    if not _born(birth, latest):
        return "is not a resident ID number: its birth date is no real day" + (
            "" if latest is None else f" on or before {latest}")
    return None


def is_id_number(text: str, latest: date | None = None) -> bool:
    """Whether ``text`` is a resident ID number with a valid check character and birth date."""
    return _id_problem(symbols(text, upper=True), latest) is None


def id_symbols(text: str) -> str:
    """An ID number's symbols however it was typed: full-width forms read as ASCII (NFKC), every
    space (inner, outer, ideographic) and hyphen dropped, a lower-case x upper-cased."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if not c.isspace() and c not in SEPARATORS).upper()


def id_number_key(text: str) -> str:
    """What records are matched on: :func:`id_symbols`, a 15-digit number as its 18-character
    upgrade. Not checked: a value that is no ID number keeps its symbols (and is no one's)."""
    number = id_symbols(text)
    if ID_15.fullmatch(number):
        body = number[:6] + "19" + number[6:]
        return body + id_check_character(body)
    return number


def id_number_problem(text: str, latest: date | None = None) -> str | None:
    """Why ``text``, read as :func:`id_symbols`, is no resident ID number (wrong check character,
    length, characters or birth date), in words that never repeat it; None when it is one."""
    return _id_problem(id_symbols(text), latest)


def checked_id_number(text: str, latest: date | None = None) -> str:
    """The 18-character form (:func:`id_number_key`) of the resident ID number ``text``;
    ``ValueError`` saying why (:func:`id_number_problem`, the number masked) when it is none."""
    problem = id_number_problem(text, latest)
    if problem is not None:
        number = id_symbols(text)
        raise ValueError(f"{_mask_id_number(number)} {problem}" if number else problem)
    return id_number_key(text)


def _luhn(digits: str) -> bool:
    doubled = (int(c) * (1 + i % 2) for i, c in enumerate(reversed(digits)))
    return sum(d - 9 if d > 9 else d for d in doubled) % 10 == 0


def _is_bank_card(text: str) -> bool:
    digits = symbols(text)
    return BANK_CARD.fullmatch(digits) is not None and _luhn(digits)


def _is_name(text: str) -> bool:
    name = text.strip()
    return 0 < len(name) <= 64 and not any(c.isdigit() for c in name)


_SHAPES: dict[FieldClass, Callable[[str, date | None], bool]] = {
    FieldClass.ID_NUMBER: is_id_number,
    FieldClass.MOBILE: lambda text, _: MOBILE.fullmatch(symbols(text)) is not None,
    FieldClass.NAME: lambda text, _: _is_name(text),
    FieldClass.ADDRESS: lambda text, _: len(text.strip()) >= 4,
    FieldClass.EMAIL: lambda text, _: EMAIL.fullmatch(text) is not None,
    FieldClass.BANK_CARD: lambda text, _: _is_bank_card(text),
    FieldClass.PLAIN: lambda text, _: True,
}


def has_shape(cls: FieldClass, text: str, latest: date | None = None) -> bool:
    """Whether ``text`` has the shape of class ``cls`` (birth dates not after ``latest``, if given)."""
    return _SHAPES[cls](text, latest)


# ---------------------------------------------------------------- masks


def _hidden(value: str) -> str:
    return MASK * len(value)


def _keep_ends(value: str, shape: re.Pattern[str], head: int, tail: int) -> str | None:
    """``value`` with all but its first ``head`` and last ``tail`` symbols masked, separators
    kept; None when its symbols (upper-cased) do not have ``shape``."""
    kept = [i for i, c in enumerate(value) if c not in SEPARATORS]
    if not shape.fullmatch("".join(value[i] for i in kept).upper()):
        return None
    hidden = set(kept[head : len(kept) - tail])
    return "".join(MASK if i in hidden else c for i, c in enumerate(value))


COMPOUND_SURNAMES = frozenset("""
    欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 端木 独孤 南宫 西门
    百里 呼延 万俟 申屠 澹台 公冶 太史 闻人 东郭 司空 司寇 左丘 公羊 拓跋 赫连 淳于 完颜 纳兰 濮阳 鲜于
    歐陽 司馬 諸葛 東方 尉遲 公孫 長孫 軒轅 鍾離 獨孤 南宮 西門 東郭 澹臺 聞人
""".split())
"""Two-character (复姓) surnames, simplified and traditional: a name starting with one keeps it.
Only those whose first character is rarely a surname with a given name after it: a longer list
would keep a second character of ordinary names (乐正 would also read 乐 + 正...)."""


def _initial(word: str, kept: int = 1) -> str:
    return word[:kept] + _hidden(word[kept:]) if len(word) > kept else _hidden(word)


def _mask_name(value: str) -> str:
    words = value.split()
    if not words:
        return ""
    first = _initial(words[0], 2 if words[0][:2] in COMPOUND_SURNAMES and len(words[0]) > 2 else 1)
    return " ".join([first, *map(_initial, words[1:])])


def _mask_id_number(value: str) -> str:
    return _keep_ends(value, ID_18, 6, 4) or _keep_ends(value, ID_15, 6, 3) or _hidden(value)


def _mask_address(value: str) -> str:
    kept = min(ADDRESS_KEPT, len(value) // 2)
    return value[:kept] + _hidden(value[kept:])


def _mask_email(value: str) -> str:
    match = EMAIL.fullmatch(value)
    if match is None:
        return _hidden(value)
    local, domain = match.groups()
    return f"{_initial(local)}@{domain}"


_MASKS: dict[FieldClass, Callable[[str], str]] = {
    FieldClass.ID_NUMBER: _mask_id_number,
    FieldClass.MOBILE: lambda value: _keep_ends(value, MOBILE, 3, 4) or _hidden(value),
    FieldClass.NAME: _mask_name,
    FieldClass.ADDRESS: _mask_address,
    FieldClass.EMAIL: _mask_email,
    FieldClass.BANK_CARD: lambda value: _keep_ends(value, BANK_CARD, 6, 4) or _hidden(value),
    FieldClass.PLAIN: lambda value: value,
}


def mask_value(cls: FieldClass, value: str) -> str:
    """``value`` as seen by a consumer whose grant does not cover its field of class ``cls``."""
    return _MASKS[cls](value)


# ---------------------------------------------------------------- free text

# A run of digits (an ID number may end in X), possibly grouped by separators; hashes and
# addresses (0x hex) are no one's number and are left out first.
_NUMBER_RUN = re.compile(r"(?<![0-9])[0-9](?:[0-9 \-]*[0-9Xx])?(?![0-9])")
_HEX = re.compile(r"0x[0-9a-fA-F]+")


def personal_number_in(text: str) -> str | None:
    """What personal number ``text`` holds, in words ("an ID number", "a mobile number"), or None.

    For free text that goes on chain (a purpose, a reason, a note): each run of digits, its
    separators dropped, is judged as a value of those classes would be (:func:`has_shape`), and so
    is each of its separated parts ("2026 13800138000" holds a mobile number)."""
    for match in _NUMBER_RUN.finditer(_HEX.sub(" ", text)):
        run = match.group()
        for candidate in (run, *re.split(r"[ \-]+", run)):
            for cls in (FieldClass.ID_NUMBER, FieldClass.MOBILE):
                if has_shape(cls, candidate):
                    return NOUNS[cls]
    return None
