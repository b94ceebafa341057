"""One status per domain error: the API's answers and the dashboard's pages read the same table."""

from __future__ import annotations

import pytest

from api.errors import status_of
from ledger.errors import ChainUnavailable
from node.errors import AlreadyExists, Conflict, InvalidInput, NodeError, NotFound, NotPermitted


@pytest.mark.parametrize(("err", "status"), [
    (NotFound("dataset", "0x01"), 404),
    (NotPermitted("civil-affairs", "repair this issue", "the data is another department's"), 403),
    (AlreadyExists("staff account", "alice"), 409),
    (Conflict("quality issue 0x01", "is open"), 409),
    (InvalidInput("version", "must be a whole number from 1"), 422),
    (ChainUnavailable("http://127.0.0.1:8545"), 503),
    (NodeError("something unforeseen"), 500),
])
def test_each_domain_error_has_one_status(err: Exception, status: int) -> None:
    assert status_of(err) == status
