"""Connection secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with key rotation (MultiFernet).

CONNECTION_SECRET_KEYS is a list of Fernet keys: the first encrypts, every one decrypts. Rotation:
put a new key first, run `cockpit rotate-secrets` (re-encrypts every ciphertext with the first key),
then drop the old key. Plaintexts and ciphertexts are never logged: no exception raised here
carries either."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEYS_SETTING = "CONNECTION_SECRET_KEYS"


class SecretKeysError(Exception):
    """The server cannot encrypt or decrypt connection secrets: an operator must fix its settings."""


class SecretKeysMissing(SecretKeysError):
    def __init__(self) -> None:
        super().__init__(
            f"Connection secrets are not configured on this server: the operator must set {KEYS_SETTING} "
            "(a JSON list of Fernet keys; the first one encrypts)."
        )


class SecretKeysInvalid(SecretKeysError):
    def __init__(self, index: int) -> None:
        super().__init__(
            f"{KEYS_SETTING}[{index}] is not a Fernet key (32 url-safe base64-encoded bytes): the operator must "
            "fix the setting."
        )


class SecretUndecryptable(SecretKeysError):
    """A ciphertext that none of the configured keys opens (a key was dropped before rotating)."""

    def __init__(self) -> None:
        super().__init__(
            f"A connection secret cannot be decrypted with any key of {KEYS_SETTING}: restore the old key, "
            "run `cockpit rotate-secrets`, then drop it."
        )


def generate_key() -> str:
    """A fresh Fernet key (for `cockpit dev` and the rotation runbook)."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts with the primary (first) key, decrypts with any. Keys are parsed on first use, so a
    server without keys still starts; only writing or reading a secret then fails (clearly)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = [k.strip() for k in keys if k and k.strip()]
        self._fernets: list[Fernet] | None = None

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    def _all(self) -> list[Fernet]:
        if self._fernets is None:
            if not self._keys:
                raise SecretKeysMissing()
            fernets = []
            for index, key in enumerate(self._keys):
                try:
                    fernets.append(Fernet(key.encode()))
                except (ValueError, TypeError):
                    raise SecretKeysInvalid(index) from None
            self._fernets = fernets
        return self._fernets

    def encrypt(self, plaintext: str) -> str:
        return self._all()[0].encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return MultiFernet(self._all()).decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretUndecryptable() from None

    def is_current(self, ciphertext: str) -> bool:
        """True when the primary key already opens it (rotation has nothing to do)."""
        try:
            self._all()[0].decrypt(ciphertext.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """The same plaintext, encrypted with the primary key (any configured key may open the input)."""
        try:
            return MultiFernet(self._all()).rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretUndecryptable() from None
