from __future__ import annotations

from prequel.auth.passwords import hash_password, password_problem, verify_password
from prequel.auth.tokens import display_prefix, generate_token, hash_token


def test_argon2_hash_verifies_only_the_right_password() -> None:
    hashed = hash_password("s3cret-password")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "s3cret-password")
    assert not verify_password(hashed, "s3cret-passworD")


def test_missing_or_garbage_hash_never_verifies() -> None:
    assert not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "anything")
    assert not verify_password(hash_password("x" * 8), "x" * 5000)


def test_password_rules() -> None:
    assert password_problem("short") == "password must be at least 8 characters"
    assert password_problem("long enough") is None


def test_tokens_are_random_and_stored_as_digests() -> None:
    first, second = generate_token(), generate_token()
    assert first != second and first.startswith("pq_")
    assert hash_token(first) != first and len(hash_token(first)) == 64
    assert display_prefix(first) == first[:10]
