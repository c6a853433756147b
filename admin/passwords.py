"""Password policy and argon2 hashing. No I/O; a password never appears in a message.

argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes),
which cost tens of milliseconds per check: slow for a guesser, unnoticed at a login.
The hash string carries its own parameters, so stronger defaults later still verify old
hashes (``needs_rehash`` says when to store a new one).
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: the shortest password accepted (characters, not bytes)
MIN_LENGTH = 10
# longer input is refused before hashing, so a megabyte "password" cannot tie up a worker
MAX_LENGTH = 256

_HASHER = PasswordHasher()


class PasswordPolicyError(ValueError):
    """A new password breaks the policy; the message says which rule, never the password."""


def check_policy(password: str, username: str) -> None:
    """Raise PasswordPolicyError unless ``password`` may be set for ``username``."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(
            f"the password for {username!r} is {len(password)} characters long; fix: use at "
            f"least {MIN_LENGTH} (a few unrelated words are easy to remember)")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(
            f"the password for {username!r} is {len(password)} characters long; fix: use at "
            f"most {MAX_LENGTH}")
    if not password.strip():
        raise PasswordPolicyError(f"the password for {username!r} is only blanks; fix: use "
                                  "letters, digits or signs")
    if password.strip().lower() == username.strip().lower():
        raise PasswordPolicyError(f"the password for {username!r} is the user name; fix: "
                                  "choose one nobody can guess from the name")


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """The argon2id hash string of ``password`` (salted: equal passwords hash apart)."""
    return (hasher or _HASHER).hash(password)


def verify_password(stored_hash: str, password: str,
                    hasher: PasswordHasher | None = None) -> bool:
    """Whether ``password`` matches ``stored_hash``; a damaged or empty hash matches
    nothing. Oversized input is refused without hashing."""
    if not stored_hash or len(password) > MAX_LENGTH:
        return False
    try:
        return bool((hasher or _HASHER).verify(stored_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher | None = None) -> bool:
    """Whether ``stored_hash`` was made with other parameters than the hasher's now."""
    try:
        return (hasher or _HASHER).check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


@cache
def dummy_hash() -> str:
    """A hash to verify against when the user name does not exist, so an unknown name
    costs as long as a wrong password and the answer's timing does not tell them apart.
    Made on first use, not at import (every ``hj212`` command imports this module)."""
    return hash_password("not a password of anyone: only spends a verify's time")
