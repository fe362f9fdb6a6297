"""Passwords, API tokens, device tokens and pairing codes: how they are made and stored.

Passwords are hashed with scrypt (a slow, memory-hard KDF from the standard library). Tokens are
long random strings; only their sha256 is stored, so a copy of the database signs nobody in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1  # ~50 ms and 16 MiB per hash
USER_TOKEN_PREFIX = "ftu_"
DEVICE_TOKEN_PREFIX = "ftd_"
_PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a label


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    return hmac.compare_digest(candidate, _unb64(digest))


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a real password")


def burn_password_time(password: str) -> None:
    """Check against a dummy hash, so a wrong e-mail takes as long as a wrong password."""
    verify_password(password, _dummy_hash())


def new_user_token() -> str:
    return USER_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_device_token() -> str:
    return DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_pairing_code() -> str:
    """XXXX-XXXX, typed on the controller or sent to it over the local link."""
    chars = "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def normalize_pairing_code(text: str) -> str:
    return text.strip().upper()


def new_plan_code() -> str:
    """An Enthusiast plan code in the domain's shape, 45F2-644E."""
    raw = secrets.token_hex(4).upper()
    return f"{raw[:4]}-{raw[4:]}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())
