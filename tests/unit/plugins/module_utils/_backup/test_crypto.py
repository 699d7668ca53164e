"""age v1 in _backup/crypto.py: interoperability with the Debian age CLI and pyrage, edge cases, tampering."""

import io
import os
import subprocess

import pyrage
import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._backup import crypto
from tests.support import age_cli

needs_age = pytest.mark.skipif(not (age_cli.AGE and age_cli.AGE_KEYGEN), reason='the age CLI is not installed (apt-get install age)')

PASSPHRASE = b'correct horse "battery" $staple \'x\''
FAST = 10  # scrypt work factor for tests that are not about age's default


def seal(data, passphrase=PASSPHRASE, work_factor=FAST, pieces=None):
    encryptor = crypto.PassphraseEncryptor(passphrase, work_factor=work_factor)
    out = [encryptor.header()]
    step = pieces or max(1, len(data))
    for start in range(0, len(data), step):
        out.append(encryptor.update(data[start:start + step]))
    out.append(encryptor.finalize())
    return b''.join(out)


def open_plain(blob, **keys):
    return b''.join(crypto.decrypt_stream(io.BufferedReader(io.BytesIO(blob)), **keys))


@pytest.fixture
def keypair(tmp_path):
    """An age identity file made by age-keygen, and its public key."""
    path = tmp_path / 'key.txt'
    proc = subprocess.run([age_cli.AGE_KEYGEN, '-o', str(path)], capture_output=True, text=True, check=True)
    public = [line.split(': ', 1)[1] for line in proc.stderr.splitlines() if line.startswith('Public key: ')][0]
    return path, public


def pyrage_to_recipients(data, recipients):
    out = io.BytesIO()
    crypto.encrypt_to_recipients(io.BytesIO(data), out, crypto.parse_recipients(recipients))
    return out.getvalue()


# --- interoperability ---------------------------------------------------------------------

@needs_age
def test_age_cli_decrypts_our_passphrase_stream_with_the_default_work_factor(tmp_path):
    data = os.urandom(3 * crypto.CHUNK + 123)
    source = tmp_path / 'ours.age'
    source.write_bytes(seal(data, work_factor=crypto.SCRYPT_WORK_FACTOR, pieces=1000))
    assert b' 18\n' in source.read_bytes()[:200]
    status, terminal = age_cli.run_with_passphrase(['-d', '-o', str(tmp_path / 'out'), str(source)], PASSPHRASE)
    assert status == 0, terminal
    assert (tmp_path / 'out').read_bytes() == data


@needs_age
def test_we_decrypt_what_the_age_cli_encrypted_with_a_passphrase(tmp_path):
    data = os.urandom(2 * crypto.CHUNK)  # an exact multiple: the full last chunk carries the last flag
    (tmp_path / 'in').write_bytes(data)
    status, terminal = age_cli.run_with_passphrase(['-p', '-o', str(tmp_path / 'cli.age'), str(tmp_path / 'in')],
                                                   PASSPHRASE)
    assert status == 0, terminal
    assert open_plain((tmp_path / 'cli.age').read_bytes(), passphrase=PASSPHRASE) == data


def test_pyrage_and_our_passphrase_streams_read_each_other():
    data = os.urandom(crypto.CHUNK + 1)
    assert pyrage.passphrase.decrypt(seal(data), PASSPHRASE.decode()) == data
    assert open_plain(pyrage.passphrase.encrypt(data, PASSPHRASE.decode()), passphrase=PASSPHRASE) == data


@needs_age
def test_age_cli_decrypts_pyrage_recipient_stream_and_we_decrypt_the_cli(tmp_path, keypair):
    identity, public = keypair
    data = os.urandom(crypto.CHUNK * 2 + 7)
    (tmp_path / 'pyrage.age').write_bytes(pyrage_to_recipients(data, [public]))
    proc = subprocess.run([age_cli.AGE, '-d', '-i', str(identity), '-o', str(tmp_path / 'out'),
                           str(tmp_path / 'pyrage.age')], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'out').read_bytes() == data
    (tmp_path / 'in').write_bytes(data)
    subprocess.run([age_cli.AGE, '-r', public, '-o', str(tmp_path / 'cli.age'), str(tmp_path / 'in')], check=True)
    keys = crypto.read_identity_file(str(identity))
    assert open_plain((tmp_path / 'cli.age').read_bytes(), identities=keys) == data
    assert open_plain((tmp_path / 'pyrage.age').read_bytes(), identities=keys) == data


def test_any_one_of_several_recipients_decrypts(tmp_path):
    identities = [pyrage.x25519.Identity.generate() for index in range(3)]
    data = b'several recipients'
    blob = pyrage_to_recipients(data, [str(identity.to_public()) for identity in identities])
    for index, identity in enumerate(identities):
        path = tmp_path / ('key%d.txt' % index)
        path.write_text('# created: today\n# public key: %s\n%s\n' % (identity.to_public(), identity))
        assert open_plain(blob, identities=crypto.read_identity_file(str(path))) == data


# --- the STREAM payload -------------------------------------------------------------------

@pytest.mark.parametrize('size', [0, 1, crypto.CHUNK - 1, crypto.CHUNK, crypto.CHUNK + 1, 2 * crypto.CHUNK,
                                  3 * crypto.CHUNK + 5])
@pytest.mark.parametrize('pieces', [None, 1000, crypto.CHUNK, 3 * crypto.CHUNK + 1])
def test_chunk_boundaries_round_trip_and_match_pyrage(size, pieces):
    data = os.urandom(size)
    blob = seal(data, pieces=pieces)
    chunks = max(1, -(-size // crypto.CHUNK))
    header_end = blob.index(b'\n---') + 1
    header_end = blob.index(b'\n', header_end) + 1
    assert len(blob) - header_end - 16 == size + 16 * chunks  # nonce, then one tag per chunk
    assert open_plain(blob, passphrase=PASSPHRASE) == data
    assert pyrage.passphrase.decrypt(blob, PASSPHRASE.decode()) == data


def test_reader_yields_bounded_chunks():
    data = os.urandom(5 * crypto.CHUNK)
    chunks = list(crypto.decrypt_stream(io.BufferedReader(io.BytesIO(seal(data))), passphrase=PASSPHRASE))
    assert len(chunks) == 5 and all(len(chunk) == crypto.CHUNK for chunk in chunks)


# --- refusals -----------------------------------------------------------------------------

def test_wrong_passphrase_is_named():
    with pytest.raises(crypto.CryptoError, match='wrong passphrase'):
        open_plain(seal(b'data'), passphrase=b'not it')


def test_wrong_identity_is_named(tmp_path):
    blob = pyrage_to_recipients(b'data', [str(pyrage.x25519.Identity.generate().to_public())])
    other = tmp_path / 'other.txt'
    other.write_text('%s\n' % pyrage.x25519.Identity.generate())
    with pytest.raises(crypto.CryptoError, match='no identity in the identity file matches'):
        open_plain(blob, identities=crypto.read_identity_file(str(other)))


def test_missing_keys_say_what_is_needed():
    with pytest.raises(crypto.CryptoError, match='encrypted with a passphrase: give the passphrase file'):
        open_plain(seal(b'data'))
    blob = pyrage_to_recipients(b'data', [str(pyrage.x25519.Identity.generate().to_public())])
    with pytest.raises(crypto.CryptoError, match='encrypted to age recipients: give an identity file'):
        open_plain(blob, passphrase=PASSPHRASE)


def _payload_start(blob):
    return blob.index(b'\n', blob.index(b'\n---') + 1) + 1 + 16


@pytest.mark.parametrize('damage', ['flip payload byte', 'drop last chunk', 'cut mid chunk', 'trailing data',
                                    'empty payload'])
def test_damaged_payload_is_refused(damage):
    blob = seal(os.urandom(2 * crypto.CHUNK + 100))
    start = _payload_start(blob)
    full = crypto.CHUNK + crypto.TAG
    damaged = {
        'flip payload byte': blob[:start + 10] + bytes([blob[start + 10] ^ 1]) + blob[start + 11:],
        'drop last chunk': blob[:start + 2 * full],
        'cut mid chunk': blob[:start + full + 500],
        'trailing data': blob + b'x' * 20,
        'empty payload': blob[:start],
    }[damage]
    with pytest.raises(crypto.CryptoError, match='truncated|corrupt'):
        open_plain(damaged, passphrase=PASSPHRASE)


def test_altered_header_fails_the_mac():
    blob = seal(b'data')
    line_end = blob.index(b'\n---')
    mac_start = line_end + 5
    mac = bytearray(blob[mac_start:mac_start + 43])
    mac[0:1] = b'A' if mac[0:1] != b'A' else b'B'
    with pytest.raises(crypto.CryptoError, match='MAC mismatch|base64'):
        open_plain(blob[:mac_start] + bytes(mac) + blob[mac_start + 43:], passphrase=PASSPHRASE)


def test_excessive_work_factor_is_refused():
    blob = seal(b'data', work_factor=FAST).replace(b' %d\n' % FAST, b' 30\n', 1)
    with pytest.raises(crypto.CryptoError, match='work factor 30 is above 22'):
        open_plain(blob, passphrase=PASSPHRASE)


def test_scrypt_must_be_the_only_stanza():
    blob = seal(b'data')
    first_stanza_end = blob.index(b'\n---')
    extra = b'\n-> X25519 ' + b'A' * 43 + b'\n' + b'A' * 43
    with pytest.raises(crypto.CryptoError, match='must be the only one'):
        open_plain(blob[:first_stanza_end] + extra + blob[first_stanza_end:], passphrase=PASSPHRASE)


def test_not_an_age_file():
    with pytest.raises(crypto.CryptoError, match='not an age'):
        open_plain(b'PGDMP\x01\x0e\x00 custom dump\n', passphrase=PASSPHRASE)


# --- inputs -------------------------------------------------------------------------------

def test_passphrase_file_first_line_only(tmp_path):
    path = tmp_path / 'pass'
    path.write_bytes(b' spaced $pass "q"\r\nsecond line\n')
    assert crypto.read_passphrase_file(str(path)) == b' spaced $pass "q"'
    path.write_bytes(b'\n')
    with pytest.raises(crypto.CryptoError, match='encryption_passphrase_file .* is empty'):
        crypto.read_passphrase_file(str(path))
    with pytest.raises(crypto.CryptoError, match='cannot be read'):
        crypto.read_passphrase_file(str(tmp_path / 'missing'))


def test_bad_recipient_is_named_with_its_index():
    good = str(pyrage.x25519.Identity.generate().to_public())
    with pytest.raises(crypto.CryptoError, match=r"encryption_recipients\[1\] 'age1nope' is not an age X25519 public key"):
        crypto.parse_recipients([good, 'age1nope'])


def test_identity_file_errors(tmp_path):
    path = tmp_path / 'id.txt'
    identity = str(pyrage.x25519.Identity.generate())
    path.write_text('# only a comment\n')
    with pytest.raises(crypto.CryptoError, match='holds no identity'):
        crypto.read_identity_file(str(path))
    path.write_text(identity[:-1] + ('q' if identity[-1] != 'Q' else 'p') + '\n')
    with pytest.raises(crypto.CryptoError, match='line 1 is not an age identity'):
        crypto.read_identity_file(str(path))
    path.write_text(str(pyrage.x25519.Identity.generate().to_public()) + '\n')
    with pytest.raises(crypto.CryptoError, match='only age X25519 identities'):
        crypto.read_identity_file(str(path))
    path.write_text(identity.lower() + '\n')  # bech32 is case-insensitive, but never mixed
    assert len(crypto.read_identity_file(str(path))) == 1
    with pytest.raises(crypto.CryptoError, match='mixed-case'):
        crypto.bech32_decode(identity[:20] + identity[20:].lower())
