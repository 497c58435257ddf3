"""Workspace passwords: readable, random, stored hashed and encrypted under the secret key."""

from __future__ import annotations

import re

from prequel.interviews.credentials import (
    PASSWORD_ALPHABET,
    check_password,
    decrypt_password,
    encrypt_password,
    generate_password,
    issue_password,
)

SECRET = "test-secret-key-that-is-long-enough-for-tests"
SHAPE = re.compile(
    rf"^[{PASSWORD_ALPHABET}]{{4}}-[{PASSWORD_ALPHABET}]{{4}}-[{PASSWORD_ALPHABET}]{{4}}$"
)


def test_passwords_are_grouped_unambiguous_characters() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert SHAPE.match(password), password
    assert not set("0o1li2z5s6b89gq") & set(PASSWORD_ALPHABET)


def test_issued_password_is_hashed_and_encrypted_never_plain() -> None:
    issued = issue_password(SECRET)
    assert issued.plain not in issued.hash
    assert issued.plain not in issued.encrypted
    assert issued.hash.startswith("$argon2")
    assert check_password(issued.hash, issued.plain)
    # What a person types: surrounding spaces and capitals are forgiven.
    assert check_password(issued.hash, f"  {issued.plain.upper()} ")
    assert not check_password(issued.hash, generate_password())
    assert decrypt_password(issued.encrypted, SECRET) == issued.plain


def test_encryption_is_bound_to_the_secret_key() -> None:
    sealed = encrypt_password("abcd-efgh-jkmn", SECRET)
    assert decrypt_password(sealed, SECRET) == "abcd-efgh-jkmn"
    assert decrypt_password(sealed, SECRET + "-rotated") is None
    assert decrypt_password("not a token", SECRET) is None
    assert decrypt_password(None, SECRET) is None
    # Fernet is randomized: the same password encrypts differently each time.
    assert encrypt_password("abcd-efgh-jkmn", SECRET) != sealed


def test_no_password_never_checks() -> None:
    assert not check_password(None, "anything")
