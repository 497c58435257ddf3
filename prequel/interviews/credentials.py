"""Workspace passwords of live interviews.

The interviewer reads the password to the candidate (or pastes it in a chat), so it is made
of characters nobody confuses when reading or typing them, in dash-separated groups. The
database keeps it twice: an argon2 hash to check a candidate's join, and a Fernet-encrypted
copy so the interviewer can see it again later. The encryption key is derived from the
portal's secret key, so a database dump alone does not reveal any password; rotating the
secret key makes old copies unreadable (the hash still checks joins).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from prequel.auth.passwords import hash_password, verify_password

# Lower-case letters and digits without the look-alikes 0/o, 1/l/i, 2/z, 5/s, 6/b, 8, 9/g/q:
# 21 symbols.
PASSWORD_ALPHABET = "347acdefhjkmnprtuvwxy"  # noqa: S105 - an alphabet, not a password
GROUPS = 3
GROUP_LENGTH = 4
# Labels the key so the secret key could derive other keys without reuse.
_KEY_INFO = b"prequel/interviews/workspace-password/v1"


@dataclass(frozen=True)
class IssuedPassword:
    """A new password: the plain text is shown once at creation, the rest is stored."""

    plain: str
    hash: str
    encrypted: str


def generate_password() -> str:
    """Three groups of four unambiguous characters, e.g. 'k7wr-3fad-mxe4' (about 52 bits)."""
    return "-".join(
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(GROUP_LENGTH))
        for _ in range(GROUPS)
    )


def normalize_password(text: str) -> str:
    """What a person typed, forgiving case and surrounding spaces (never inner characters)."""
    return text.strip().lower()


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_password(password: str, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(password.encode()).decode("ascii")


def decrypt_password(encrypted: str | None, secret_key: str) -> str | None:
    """The password for the interviewer's view; None when there is none or the secret key
    changed since it was encrypted."""
    if not encrypted:
        return None
    try:
        return _fernet(secret_key).decrypt(encrypted.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        return None


def issue_password(secret_key: str) -> IssuedPassword:
    plain = generate_password()
    return IssuedPassword(
        plain=plain,
        hash=hash_password(plain),
        encrypted=encrypt_password(plain, secret_key),
    )


def check_password(password_hash: str | None, attempt: str) -> bool:
    """argon2 verification; constant work even when the interview has no password."""
    return verify_password(password_hash, normalize_password(attempt))
