"""Who is calling: sign-in for department staff (password) and for consumers and auditors
(Sign-In with Ethereum, EIP-4361), then a signed session token carried as ``Bearer``.

- :mod:`api.auth.passwords`: staff password hashes.
- :mod:`api.auth.siwe`: EIP-4361 messages, written and read; no web framework, no database,
  so that the CLI can build one.
- :mod:`api.auth.tokens`: who a request comes from (:class:`~api.auth.tokens.Principal`) and
  the session tokens (JWT, HS256) that carry it.
- :mod:`api.auth.service`: :class:`~api.auth.service.Auth`, one node's sign-in and the checks
  of a session against the chain and the staff database on every request.
- :mod:`api.auth.deps`: the FastAPI dependencies (``require``, ``optional``).
- :mod:`api.auth.models`, :mod:`api.auth.routes`: the ``/auth`` routes and their bodies.

This package imports nothing here, so that importing :mod:`api.auth.siwe` pulls in no more
than that module needs.
"""
