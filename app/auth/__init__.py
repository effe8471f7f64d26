"""Accounts and access control: passwords, sessions, API keys, CSRF, rate limits, headers.

The ASGI middleware (`app.auth.middleware`) authenticates every HTTP and WebSocket scope and
puts the caller (a `Principal`, or None) in scope["state"]["principal"]; route handlers ask
`app.auth.access` whether that caller may do what it asks.
"""
