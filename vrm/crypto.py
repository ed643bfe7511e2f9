"""Keys and the cryptography built on them.

- Field encryption: AES-256-GCM under a keyring of key ids. A ciphertext reads
  ``<kid>:<base64url(nonce || ciphertext || tag)>`` and is bound by its AAD to the
  table, column and row it lives in, so a value copied to another row fails to decrypt.
- Blind index: HMAC-SHA256 of a normalised value, to look up encrypted emails.
- Tokens: random secrets with a readable prefix, stored only as SHA-256 digests.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

NONCE_BYTES = 12
TOKEN_BYTES = 32  # 256 random bits
# How often a process looks for a rotated keyring file.
RELOAD_INTERVAL_S = 1.0


class KeyringError(RuntimeError):
    """The keyring is missing, malformed, or lacks a key a ciphertext names."""


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# A feed page names 50 people by their refs, and the same pairs come back on every read;
# the key is part of the cache key, so a different pseudonym key never finds an old ref.
@functools.lru_cache(maxsize=65_536)
def _pseudonym(key: bytes, vendor_id: str, person_id: str) -> str:
    message = f"customer_ref\x00{vendor_id}\x00{person_id}".encode()
    return "cus_" + _b64e(hmac.new(key, message, hashlib.sha256).digest()[:20])


def aad_for(table: str, column: str, row_id: object) -> bytes:
    return f"{table}:{column}:{row_id}".encode()


def new_key_id() -> str:
    return time.strftime("k%Y%m%d-") + secrets.token_hex(3)


@dataclass
class KeyMaterial:
    """The server's secrets, as held in the keyring JSON document."""

    active: str
    keys: dict[str, bytes]
    index_key: bytes
    session_key: bytes
    # Derives each vendor's customer_ref for a person; never rotated, or refs would change.
    pseudonym_key: bytes
    # Ed25519 private keys (raw 32 bytes) that sign records; all are published in the JWKS.
    signing_active: str
    signing_keys: dict[str, bytes]

    @classmethod
    def generate(cls) -> KeyMaterial:
        kid = new_key_id()
        signing_kid = "s" + new_key_id()
        return cls(
            active=kid,
            keys={kid: AESGCM.generate_key(bit_length=256)},
            index_key=secrets.token_bytes(32),
            session_key=secrets.token_bytes(32),
            pseudonym_key=secrets.token_bytes(32),
            signing_active=signing_kid,
            signing_keys={signing_kid: secrets.token_bytes(32)},
        )

    @classmethod
    def from_json(cls, text: str) -> KeyMaterial:
        try:
            doc = json.loads(text)
            keys = {kid: _b64d(value) for kid, value in doc["encryption"]["keys"].items()}
            material = cls(
                active=doc["encryption"]["active"],
                keys=keys,
                index_key=_b64d(doc["index_key"]),
                session_key=_b64d(doc["session_key"]),
                pseudonym_key=_b64d(doc["pseudonym_key"]),
                signing_active=doc["signing"]["active"],
                signing_keys={kid: _b64d(v) for kid, v in doc["signing"]["keys"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyringError(f"the keyring is malformed: {exc.__class__.__name__}") from None
        if material.active not in keys:
            raise KeyringError("the keyring's active key id is not among its keys")
        if any(len(key) != 32 for key in keys.values()):
            raise KeyringError("every encryption key must be 32 bytes (AES-256)")
        if material.signing_active not in material.signing_keys:
            raise KeyringError("the keyring's active signing key id is not among its keys")
        return material

    def to_json(self) -> str:
        doc = {
            "encryption": {
                "active": self.active,
                "keys": {kid: _b64e(key) for kid, key in self.keys.items()},
            },
            "index_key": _b64e(self.index_key),
            "session_key": _b64e(self.session_key),
            "pseudonym_key": _b64e(self.pseudonym_key),
            "signing": {
                "active": self.signing_active,
                "keys": {kid: _b64e(key) for kid, key in self.signing_keys.items()},
            },
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"


@dataclass
class Keyring:
    """Encrypts with the active key, decrypts with any key it holds.

    When backed by a file, a process re-reads the file when it changes, so ``vrm keys
    rotate`` takes effect in running servers without a restart.
    """

    material: KeyMaterial
    path: Path | None = None
    _mtime: float = 0.0
    _checked: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        ring = cls(KeyMaterial.from_json(path.read_text()), path)
        ring._mtime = path.stat().st_mtime
        ring._checked = time.monotonic()
        return ring

    def save(self) -> None:
        """Write the keyring file atomically, readable by its owner only."""
        if self.path is None:
            raise KeyringError("this keyring came from VRM_KEYS; edit that variable instead")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        with os.fdopen(fd, "w") as handle:
            handle.write(self.material.to_json())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._mtime = self.path.stat().st_mtime

    def refresh(self, force: bool = False) -> None:
        """Re-read the file if it changed since the last look."""
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_INTERVAL_S:
            return
        with self._lock:
            self._checked = now
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError:
                return
            if mtime != self._mtime:
                self.material = KeyMaterial.from_json(self.path.read_text())
                self._mtime = mtime
                log.info("keyring reloaded; active key %s", self.material.active)

    @property
    def active_kid(self) -> str:
        self.refresh()
        return self.material.active

    def encrypt(self, plaintext: str, aad: bytes) -> str:
        self.refresh()
        kid = self.material.active
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.material.keys[kid]).encrypt(nonce, plaintext.encode(), aad)
        return f"{kid}:{_b64e(nonce + sealed)}"

    def decrypt(self, ciphertext: str, aad: bytes) -> str:
        kid, _, body = ciphertext.partition(":")
        key = self.material.keys.get(kid)
        if key is None:
            self.refresh(force=True)
            key = self.material.keys.get(kid)
        if key is None:
            raise KeyringError(f"no key {kid!r} in the keyring")
        raw = _b64d(body)
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad).decode()
        except InvalidTag:
            raise KeyringError("ciphertext does not match its key or its place") from None

    def encrypt_json(self, value: Any, aad: bytes) -> str:
        return self.encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True), aad)

    def decrypt_json(self, ciphertext: str, aad: bytes) -> Any:
        return json.loads(self.decrypt(ciphertext, aad))

    def blind_index(self, purpose: str, value: str) -> str:
        """A keyed, deterministic digest for equality lookups on an encrypted value."""
        self.refresh()
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self.material.index_key, message, hashlib.sha256).hexdigest()

    def pseudonym(self, vendor_id: object, person_id: object) -> str:
        """The person's pairwise ``customer_ref`` at one vendor: stable, and unlinkable
        across vendors without the server key."""
        return _pseudonym(self.material.pseudonym_key, str(vendor_id), str(person_id))

    def sign_jws(self, payload: dict[str, Any], typ: str) -> str:
        """A compact JWS (RFC 7515) over ``payload``, signed with the active Ed25519 key;
        ``alg`` is "Ed25519" (RFC 9864)."""
        self.refresh()
        kid = self.material.signing_active
        header = {"alg": "Ed25519", "kid": kid, "typ": typ}
        signing_input = ".".join(
            _b64e(json.dumps(part, separators=(",", ":"), sort_keys=True).encode())
            for part in (header, payload)
        )
        key = Ed25519PrivateKey.from_private_bytes(self.material.signing_keys[kid])
        return f"{signing_input}.{_b64e(key.sign(signing_input.encode()))}"

    def verify_jws(self, token: str) -> dict[str, Any]:
        """The payload of a JWS one of our signing keys made; accepts "Ed25519" and the
        deprecated "EdDSA"."""
        try:
            header_b64, payload_b64, signature_b64 = token.split(".")
            header = json.loads(_b64d(header_b64))
            raw = self.material.signing_keys[header["kid"]]
            if header.get("alg") not in {"Ed25519", "EdDSA"}:
                raise KeyringError("unsupported alg")
            public = Ed25519PrivateKey.from_private_bytes(raw).public_key()
            public.verify(_b64d(signature_b64), f"{header_b64}.{payload_b64}".encode())
            return json.loads(_b64d(payload_b64))
        except (ValueError, KeyError, TypeError, InvalidSignature):
            raise KeyringError("the signature does not verify") from None

    def jwks(self) -> dict[str, Any]:
        """The public half of every signing key, as a JWK Set (RFC 7517, OKP per RFC 8037)."""
        self.refresh()
        keys = []
        for kid, raw in sorted(self.material.signing_keys.items()):
            public = Ed25519PrivateKey.from_private_bytes(raw).public_key()
            x = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            keys.append(
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64e(x),
                    "kid": kid,
                    "use": "sig",
                    "alg": "Ed25519",
                }
            )
        return {"keys": keys}


def kid_of(ciphertext: str) -> str:
    return ciphertext.partition(":")[0]


def new_token(prefix: str) -> str:
    """A bearer secret: a readable prefix and 256 random bits."""
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_keyring(settings: dict[str, Any], instance_path: Path) -> Keyring:
    """The keyring from VRM_KEYS, VRM_KEYS_FILE, or (development only) ``instance/keys.json``,
    generated on first run."""
    if settings.get("KEYS"):
        return Keyring(KeyMaterial.from_json(settings["KEYS"]))
    if settings.get("KEYS_FILE"):
        path = Path(settings["KEYS_FILE"])
        if not path.exists():
            raise KeyringError(f"VRM_KEYS_FILE names {path}, which does not exist")
        return Keyring.from_file(path)
    if settings["ENV"] == "production":
        raise KeyringError("VRM_ENV=production needs keys: set VRM_KEYS_FILE or VRM_KEYS")
    path = instance_path / "keys.json"
    if not path.exists():
        log.warning("generated development keys in %s; never use them in production", path)
        ring = Keyring(KeyMaterial.generate(), path)
        ring.save()
        return ring
    return Keyring.from_file(path)
