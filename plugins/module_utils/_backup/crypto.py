# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""age v1 encryption in constant memory (https://age-encryption.org/v1, docs/backup-encryption.md).

To X25519 recipients the writer is pyrage's streaming ``encrypt_io``. pyrage's passphrase
API takes the whole plaintext in memory, so the passphrase writer and the reader of both
kinds are written here on ``cryptography``: the scrypt and X25519 stanzas, the header MAC
and the STREAM payload (64 KiB ChaCha20-Poly1305 chunks), following the public spec.
Interoperability with the age CLI and pyrage is proven in tests/unit/.../test_crypto.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hmac
import os
import traceback

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

try:
    import pyrage
    HAS_PYRAGE = True
    PYRAGE_IMPORT_ERROR = None
except ImportError:
    HAS_PYRAGE = False
    PYRAGE_IMPORT_ERROR = traceback.format_exc()

VERSION_LINE = b'age-encryption.org/v1'
CHUNK = 64 * 1024
TAG = 16
SCRYPT_LABEL = b'age-encryption.org/v1/scrypt'
X25519_LABEL = b'age-encryption.org/v1/X25519'
# age's own default: about a second of work and 256 MiB of memory, once per backup.
SCRYPT_WORK_FACTOR = 18
# Readers refuse more, as age does, so a crafted file cannot demand gigabytes.
MAX_SCRYPT_WORK_FACTOR = 22
MAX_HEADER = 64 * 1024
_BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'


class CryptoError(ValueError):
    """Encryption settings or an encrypted artifact that cannot work; the text says why."""


# --- small encodings ------------------------------------------------------------------

def _b64encode(data):
    return base64.b64encode(data).rstrip(b'=')


def _b64decode(text):
    """age's base64: standard alphabet, no padding, canonical."""
    if b'=' in text or b'\r' in text or b'\n' in text:
        raise CryptoError('malformed age header: bad base64')
    try:
        data = base64.b64decode(text + b'=' * (-len(text) % 4), validate=True)
    except ValueError:
        raise CryptoError('malformed age header: bad base64')
    if _b64encode(data) != text:
        raise CryptoError('malformed age header: non-canonical base64')
    return data


def _bech32_polymod(values):
    generator = (0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1ffffff) << 5 ^ value
        for index in range(5):
            check ^= generator[index] if (top >> index) & 1 else 0
    return check


def bech32_decode(text):
    """(hrp, data bytes) of a BIP-173 bech32 string, the encoding of age keys."""
    if text.lower() != text and text.upper() != text:
        raise CryptoError('mixed-case bech32 key')
    text = text.lower()
    pos = text.rfind('1')
    if pos < 1 or len(text) - pos < 7:
        raise CryptoError('not a bech32 key')
    hrp = text[:pos]
    values = [_BECH32.find(char) for char in text[pos + 1:]]
    if -1 in values:
        raise CryptoError('not a bech32 key')
    expanded = [ord(char) >> 5 for char in hrp] + [0] + [ord(char) & 31 for char in hrp]
    if _bech32_polymod(expanded + values) != 1:
        raise CryptoError('bech32 checksum mismatch')
    acc, bits, out = 0, 0, bytearray()
    for value in values[:-6]:
        acc = (acc << 5) | value
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xff)
    if bits >= 5 or (acc << (8 - bits)) & 0xff:
        raise CryptoError('bech32 key has bad padding')
    return hrp, bytes(out)


def _hkdf(key, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def _header_mac(file_key, header_without_mac):
    return hmac.new(_hkdf(file_key, None, b'header'), header_without_mac, 'sha256').digest()


def _scrypt_key(passphrase, salt, work_factor):
    kdf = Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=2 ** work_factor, r=8, p=1)
    return kdf.derive(passphrase)


def _stream_nonce(counter, last):
    return counter.to_bytes(11, 'big') + (b'\x01' if last else b'\x00')


# --- inputs -----------------------------------------------------------------------------

def read_passphrase_file(path, option='encryption_passphrase_file'):
    """The first line of the file without its line ending, as bytes."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read(65536)
    except (IOError, OSError) as exc:
        raise CryptoError('%s %s cannot be read: %s' % (option, path, exc.strerror or exc))
    passphrase = data.split(b'\n', 1)[0]
    if passphrase.endswith(b'\r'):
        passphrase = passphrase[:-1]
    if not passphrase:
        raise CryptoError('%s %s is empty: put the passphrase on its first line' % (option, path))
    return passphrase


def parse_recipients(recipients, option='encryption_recipients'):
    """pyrage X25519 recipients from age public keys (age1...); a bad key is named."""
    require_pyrage()
    parsed = []
    for index, text in enumerate(recipients):
        try:
            parsed.append(pyrage.x25519.Recipient.from_str((text or '').strip()))
        except Exception as exc:  # pyrage raises RecipientError or ValueError depending on the input
            raise CryptoError('%s[%d] %r is not an age X25519 public key (age1...): %s' % (option, index, text, exc))
    if not parsed:
        raise CryptoError('%s is empty: give at least one age public key (age1...)' % option)
    return parsed


def read_identity_file(path, option='identity_file'):
    """X25519 private keys from an age identity file (AGE-SECRET-KEY-1... lines)."""
    try:
        with open(path, 'r') as handle:
            lines = handle.read(1024 * 1024).splitlines()
    except (IOError, OSError) as exc:
        raise CryptoError('%s %s cannot be read: %s' % (option, path, exc.strerror or exc))
    keys = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        try:
            hrp, secret = bech32_decode(line)
        except CryptoError as exc:
            raise CryptoError('%s %s line %d is not an age identity: %s' % (option, path, number, exc))
        if hrp != 'age-secret-key-' or len(secret) != 32:
            raise CryptoError('%s %s line %d: only age X25519 identities (AGE-SECRET-KEY-1...) are supported'
                              % (option, path, number))
        keys.append(X25519PrivateKey.from_private_bytes(secret))
    if not keys:
        raise CryptoError('%s %s holds no identity (AGE-SECRET-KEY-1... line)' % (option, path))
    return keys


def require_pyrage():
    if not HAS_PYRAGE:
        raise MissingLibrary('pyrage', PYRAGE_IMPORT_ERROR)


def require_cryptography():
    if not HAS_CRYPTOGRAPHY:
        raise MissingLibrary('cryptography', CRYPTOGRAPHY_IMPORT_ERROR)


class MissingLibrary(CryptoError):
    def __init__(self, library, error):
        self.library = library
        self.error = error
        super(MissingLibrary, self).__init__('%s is needed for encrypted backups' % library)


# --- writing ----------------------------------------------------------------------------

def encrypt_to_recipients(reader, writer, recipients):
    """Stream ``reader`` (file-like) to ``writer`` encrypted to pyrage recipients."""
    pyrage.encrypt_io(reader, writer, recipients)


class PassphraseEncryptor(object):
    """age scrypt encryption as a push stream: ``header()``, ``update(data)``, ``finalize()``."""

    def __init__(self, passphrase, work_factor=SCRYPT_WORK_FACTOR):
        require_cryptography()
        file_key = os.urandom(16)
        salt = os.urandom(16)
        wrapped = ChaCha20Poly1305(_scrypt_key(passphrase, salt, work_factor)).encrypt(b'\x00' * 12, file_key, None)
        header = b'\n'.join([VERSION_LINE, b'-> scrypt ' + _b64encode(salt) + b' %d' % work_factor,
                             _b64encode(wrapped), b'---'])
        nonce = os.urandom(16)
        self._header = header + b' ' + _b64encode(_header_mac(file_key, header)) + b'\n' + nonce
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b'payload'))
        self._counter = 0
        self._buffer = bytearray()

    def header(self):
        return self._header

    def _seal(self, chunk, last):
        sealed = self._aead.encrypt(_stream_nonce(self._counter, last), bytes(chunk), None)
        self._counter += 1
        return sealed

    def update(self, data):
        """Ciphertext of every full chunk but the last one seen (the last chunk is marked)."""
        self._buffer += data
        if len(self._buffer) <= CHUNK:
            return b''
        full = (len(self._buffer) - 1) // CHUNK * CHUNK
        view = memoryview(self._buffer)
        out = b''.join(self._seal(view[start:start + CHUNK], False) for start in range(0, full, CHUNK))
        view.release()
        del self._buffer[:full]
        return out

    def finalize(self):
        out = self._seal(self._buffer, True)
        self._buffer = bytearray()
        return out


# --- reading ----------------------------------------------------------------------------

def _read_header(handle):
    """(stanzas, header bytes up to '---', mac) from the start of an age file."""
    lines = []
    size = 0
    while True:
        line = handle.readline(MAX_HEADER)
        size += len(line)
        if not line.endswith(b'\n') or size > MAX_HEADER:
            raise CryptoError('not an age file, or its header is truncated')
        lines.append(line[:-1])
        if line.startswith(b'---'):
            break
    if lines[0] != VERSION_LINE:
        raise CryptoError('not an age v1 file (first line %r)' % lines[0][:40])
    footer = lines[-1]
    if not footer.startswith(b'--- '):
        raise CryptoError('malformed age header: bad MAC line')
    mac = _b64decode(footer[4:])
    stanzas = []
    for line in lines[1:-1]:
        if line.startswith(b'-> '):
            stanzas.append((line[3:].split(b' '), []))
        elif stanzas:
            stanzas[-1][1].append(line)
        else:
            raise CryptoError('malformed age header: body line before any stanza')
    parsed = []
    for args, body_lines in stanzas:
        if not body_lines or len(body_lines[-1]) >= 64 or any(len(part) != 64 for part in body_lines[:-1]):
            raise CryptoError('malformed age header: bad stanza body')
        parsed.append((args, _b64decode(b''.join(body_lines))))
    header_without_mac = b'\n'.join(lines[:-1]) + b'\n---'
    return parsed, header_without_mac, mac


def _unwrap_scrypt(stanzas, passphrase):
    if len(stanzas) != 1:
        raise CryptoError('malformed age header: a scrypt stanza must be the only one')
    args, body = stanzas[0]
    if len(args) != 3 or not args[2].isdigit() or args[2].startswith(b'0'):
        raise CryptoError('malformed age header: bad scrypt stanza')
    salt, work_factor = _b64decode(args[1]), int(args[2])
    if len(salt) != 16 or len(body) != 32:
        raise CryptoError('malformed age header: bad scrypt stanza')
    if work_factor > MAX_SCRYPT_WORK_FACTOR:
        raise CryptoError('scrypt work factor %d is above %d: refused' % (work_factor, MAX_SCRYPT_WORK_FACTOR))
    try:
        return ChaCha20Poly1305(_scrypt_key(passphrase, salt, work_factor)).decrypt(b'\x00' * 12, body, None)
    except InvalidTag:
        raise CryptoError('wrong passphrase: the passphrase file does not decrypt this artifact')


def _unwrap_x25519(stanzas, identities):
    for args, body in stanzas:
        if args[0] != b'X25519':
            continue
        if len(args) != 2 or len(body) != 32:
            raise CryptoError('malformed age header: bad X25519 stanza')
        share = _b64decode(args[1])
        if len(share) != 32:
            raise CryptoError('malformed age header: bad X25519 stanza')
        for identity in identities:
            shared = identity.exchange(X25519PublicKey.from_public_bytes(share))
            if shared == b'\x00' * 32:
                raise CryptoError('malformed age header: low-order X25519 share')
            public = identity.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            try:
                return ChaCha20Poly1305(_hkdf(shared, share + public, X25519_LABEL)).decrypt(b'\x00' * 12, body, None)
            except InvalidTag:
                continue
    raise CryptoError('no identity in the identity file matches a recipient of this artifact')


def decrypt_stream(handle, identities=None, passphrase=None):
    """Plaintext chunks of an age file open in ``handle`` (binary, buffered)."""
    require_cryptography()
    stanzas, header, mac = _read_header(handle)
    kinds = set(args[0] for args, body in stanzas)
    if b'scrypt' in kinds:
        if passphrase is None:
            raise CryptoError('the artifact is encrypted with a passphrase: give the passphrase file')
        file_key = _unwrap_scrypt(stanzas, passphrase)
    elif identities:
        file_key = _unwrap_x25519(stanzas, identities)
    else:
        raise CryptoError('the artifact is encrypted to age recipients: give an identity file')
    if not hmac.compare_digest(_header_mac(file_key, header), mac):
        raise CryptoError('age header MAC mismatch: the artifact header was altered')
    nonce = handle.read(16)
    if len(nonce) != 16:
        raise CryptoError('the artifact is truncated (no payload)')
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b'payload'))
    return _open_chunks(handle, aead)


def _open_chunks(handle, aead):
    counter = 0
    current = handle.read(CHUNK + TAG)
    while True:
        following = handle.read(CHUNK + TAG) if len(current) == CHUNK + TAG else b''
        last = not following
        if len(current) < TAG or (last and counter and len(current) == TAG):
            raise CryptoError('the artifact is truncated or corrupt at chunk %d' % counter)
        try:
            plain = aead.decrypt(_stream_nonce(counter, last), current, None)
        except InvalidTag:
            if last:
                raise CryptoError('the artifact is truncated or corrupt at chunk %d' % counter)
            raise CryptoError('the artifact is corrupt at chunk %d (authentication failed)' % counter)
        yield plain
        if last:
            return
        counter += 1
        current = following
