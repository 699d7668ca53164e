# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every datastore backend shares: the connection settings, the error type and
the small interface that check, backup, optimise, stats and retention code call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time


class EngineError(Exception):
    """A failure an operator can act on. Its text never carries a password."""


class MissingDriver(EngineError):
    """The Python driver for an engine is not installed on the target."""

    def __init__(self, library, engine, error=None):
        self.library = library
        self.engine = engine
        self.error = error
        super(MissingDriver, self).__init__('%s is needed for engine %s' % (library, engine))


def scrub(text, secrets):
    """Replace every non-empty secret in ``text``; drivers sometimes echo DSNs back."""
    text = '%s' % (text,)
    for secret in secrets:
        if secret:
            text = text.replace(secret, '********')
    return text


class Signal(object):
    """One raw measurement of a backend, before thresholds give it a status.

    ``key`` names the signal (``connections``, ``latency``, ...) so a caller can look
    up the threshold for it; ``value`` is None for information-only signals.
    """

    def __init__(self, key, value=None, unit=None, detail=None, **extra):
        self.key = key
        self.value = value
        self.unit = unit
        self.detail = detail
        self.extra = extra

    def __repr__(self):
        return 'Signal(%r, %r, %r)' % (self.key, self.value, self.unit)


class ConnectionSpec(object):
    """How to reach one datastore, built from the shared connection options."""

    FIELDS = ('engine', 'login_host', 'login_port', 'login_user', 'login_password',
              'login_unix_socket', 'database', 'tls', 'tls_ca', 'tls_cert', 'tls_key',
              'tls_verify', 'connect_timeout')

    def __init__(self, engine, login_host=None, login_port=None, login_user=None,
                 login_password=None, login_unix_socket=None, database=None, tls=None,
                 tls_ca=None, tls_cert=None, tls_key=None, tls_verify=None,
                 connect_timeout=None, name=None):
        self.engine = engine
        self.host = login_host or ('localhost' if login_unix_socket else '127.0.0.1')
        self.port = login_port
        self.user = login_user
        self.password = login_password
        self.unix_socket = login_unix_socket
        self.database = database
        # Any TLS file implies TLS: a CA path given with tls unset is a wish, not noise.
        self.tls = bool(tls) or bool(tls_ca or tls_cert or tls_key)
        self.tls_ca = tls_ca
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.tls_verify = True if tls_verify is None else bool(tls_verify)
        self.connect_timeout = 5 if connect_timeout is None else connect_timeout
        self.name = name

    def endpoint(self, default_port):
        if self.unix_socket:
            return self.unix_socket
        return '%s:%s' % (self.host, self.port or default_port)

    def secrets(self):
        return [self.password]


class Engine(object):
    """Base of the backends. Subclasses set ``name``, ``default_port`` and ``library``
    and implement ``_connect``, ``_close``, ``_ping``, ``version`` and ``health``.

    Use as a context manager; every driver exception is turned into EngineError with
    the endpoint in its text and the password scrubbed.
    """

    name = None
    default_port = None
    library = None

    def __init__(self, conn):
        self.conn = conn
        self.client = None

    @property
    def label(self):
        label = '%s@%s' % (self.name, self.conn.endpoint(self.default_port))
        if self.conn.database not in (None, ''):
            label += '/%s' % (self.conn.database,)
        return self.conn.name or label

    @property
    def port(self):
        return self.conn.port or self.default_port

    # Driver messages that do not say what to do, and the fix an operator needs.
    HINTS = (
        ('connection refused', 'nothing listens there: is the server running, and are login_host and login_port right?'),
        ('timed out', 'no answer within connect_timeout: check the host, the port and any firewall'),
        ('timeout expired', 'no answer within connect_timeout: check the host, the port and any firewall'),
        ('name or service not known', 'the host name does not resolve: check login_host'),
        ('password authentication failed', 'wrong login_user or login_password'),
        ('no password supplied', 'the server requires a password: set login_password'),
        ('access denied for user', 'wrong login_user or login_password, or the user may not log in from this host'),
    )

    def describe(self, exc):
        """The driver's message on one line; backends trim what only adds noise."""
        return ' '.join(('%s' % (exc,)).split()) or exc.__class__.__name__

    def error(self, action, exc):
        text = self.describe(exc)
        lowered = text.lower()
        for pattern, hint in self.HINTS:
            if pattern in lowered:
                text = '%s (%s)' % (text, hint)
                break
        reason = scrub('%s: %s' % (action, text), self.conn.secrets())
        error = EngineError('%s: %s' % (self.label, reason))
        error.reason = reason  # the same without the target label, for items already named by it
        return error

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def connect(self):
        self.require_driver()
        try:
            self.client = self._connect()
        except EngineError:
            raise
        except Exception as exc:  # drivers raise many types; all mean "cannot connect"
            raise self.error('cannot connect', exc)

    def close(self):
        if self.client is not None:
            try:
                self._close()
            except Exception:  # closing a broken connection must not hide the real error
                pass
            self.client = None

    def ping(self):
        """Round-trip time of the lightest request, in milliseconds."""
        start = time.monotonic()
        try:
            self._ping()
        except Exception as exc:
            raise self.error('ping failed', exc)
        return (time.monotonic() - start) * 1000.0

    def run(self, action, func, *args, **kwargs):
        """Call a driver function, turning its exceptions into EngineError."""
        try:
            return func(*args, **kwargs)
        except EngineError:
            raise
        except Exception as exc:
            raise self.error(action, exc)

    # The interface each backend fills in.
    def require_driver(self):
        raise NotImplementedError

    def _connect(self):
        raise NotImplementedError

    def _close(self):
        raise NotImplementedError

    def _ping(self):
        raise NotImplementedError

    def version(self):
        raise NotImplementedError

    def version_signal(self, version=None):
        version = version or self.version()
        return Signal('version', version, None, 'server version %s' % version)

    def health(self, long_query_seconds):
        """Signals for db_check: a list of Signal (latency and version come first)."""
        raise NotImplementedError


def percent(part, whole):
    if not whole:
        return None
    return round(100.0 * part / whole, 1)
