"""Request and response bodies of the API, with examples for the OpenAPI document, by area:
:mod:`.datasets`, :mod:`.grants`, :mod:`.audit`, :mod:`.system`; :mod:`.base` holds what they
share, and :mod:`.mirror` checks each response body against the domain type it mirrors.

Hashes and ids are 0x-prefixed hex; addresses are checksummed; times are Unix seconds unless
named ``*_at`` as RFC 3339 date-times in UTC (:data:`.base.UtcDateTime`).
"""
