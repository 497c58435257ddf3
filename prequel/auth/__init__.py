"""Accounts and authentication: passwords, sessions, CSRF, API tokens, throttling."""
