# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an engine's dump hands to the backup pipeline."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class DumpSource(object):
    """A dump as a stream of bytes chunks.

    Subclasses set ``dump_format`` ('pgdump', 'sql', 'pgglobals.sql', 'mongo.tar', 'rdb')
    and ``tool_version``, implement ``chunks()`` and ``close()``, and fill ``counts``
    (rows, documents or keys per table, collection or db) by the time ``chunks()`` is
    exhausted. ``chunks()`` raises EngineError (the tool's error text, passwords
    scrubbed) when the dump fails at any point, including after its last chunk, so the
    pipeline never commits a dump that did not finish cleanly. ``close()`` must be
    idempotent and safe after a failure: it kills child processes and removes any
    option file holding a password.
    """

    dump_format = None
    tool_version = None

    def __init__(self):
        self.counts = {}

    def estimated_size(self):
        """Bytes the dump is expected to take before compression, or None."""
        return None

    def chunks(self):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False
