# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listening sockets from /proc/net/{tcp,tcp6,udp,udp6}, compared with the allowed ports.

A TCP socket listens in state 0A (LISTEN); a UDP socket is counted when it is bound and not
connected (state 07 with no remote port), which is how a UDP server waits. Addresses in
/proc are hex in the kernel's (little-endian) byte order, 32 bits at a time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import ipaddress
import os
import re

from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import AuditError, finding

TABLES = ('tcp', 'tcp6', 'udp', 'udp6')
TCP_LISTEN = '0A'
UDP_UNCONNECTED = '07'

_SPEC = re.compile(r'^(?:(tcp|udp)/)?(?:(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+?|\*):)?(\d{1,5})(?:-(\d{1,5}))?$')


class Socket(object):
    __slots__ = ('proto', 'table', 'address', 'port', 'uid', 'inode')

    def __init__(self, table, address, port, uid, inode):
        self.table = table
        self.proto = table.rstrip('6')
        self.address = address
        self.port = port
        self.uid = uid
        self.inode = inode

    @property
    def endpoint(self):
        host = '[%s]' % self.address if ':' in self.address else self.address
        return '%s/%s:%d' % (self.proto, host, self.port)

    @property
    def loopback(self):
        address = ipaddress.ip_address(self.address)
        mapped = getattr(address, 'ipv4_mapped', None)
        return (mapped or address).is_loopback


def decode_address(text):
    """'0100007F:1F90' -> ('127.0.0.1', 8080); IPv6 addresses are 32 hex digits."""
    host, port = text.split(':')
    raw = binascii.unhexlify(host)
    if len(raw) not in (4, 16):
        raise ValueError('address %r is neither IPv4 nor IPv6' % text)
    packed = b''.join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4))
    address = ipaddress.ip_address(packed)
    mapped = getattr(address, 'ipv4_mapped', None)
    # An IPv4 client of a dual-stack socket, written the same way whatever the Python version.
    return '::ffff:%s' % mapped if mapped else '%s' % address, int(port, 16)


def parse_table(text, table):
    """Listening Sockets of one /proc/net table's text."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        state = fields[3].upper()
        try:
            if table.startswith('tcp'):
                if state != TCP_LISTEN:
                    continue
            else:
                if state != UDP_UNCONNECTED or decode_address(fields[2])[1] != 0:
                    continue
            address, port = decode_address(fields[1])
            sockets.append(Socket(table, address, port, int(fields[7]), int(fields[9])))
        except ValueError:
            continue
    return sockets


def read_sockets(proc_net='/proc/net'):
    """(sockets, problems) from the four tables; a missing table (no IPv6) is no problem."""
    sockets = []
    problems = []
    for table in TABLES:
        path = os.path.join(proc_net, table)
        try:
            with open(path) as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            if exc.errno != 2:
                problems.append((path, 'cannot read: %s' % exc.strerror))
            continue
        sockets.extend(parse_table(text, table))
    return sockets, problems


class PortRule(object):
    """One entry of allowed_ports: [tcp/|udp/][ADDRESS:]PORT[-PORT]."""

    def __init__(self, text):
        self.text = text
        found = _SPEC.match(('%s' % text).strip())
        if not found:
            raise AuditError('allowed_ports entry %r is not [tcp/|udp/][ADDRESS:]PORT[-PORT]: write for example 22, '
                             'tcp/443, udp/53, tcp/127.0.0.1:6379, tcp/[::1]:5432 or tcp/30000-32767' % (text,))
        self.proto = found.group(1)
        address = found.group(2)
        self.address = None
        if address and address != '*':
            try:
                self.address = ipaddress.ip_address(address.strip('[]'))
            except ValueError:
                raise AuditError('allowed_ports entry %r: %r is not an IP address' % (text, address))
        self.low = int(found.group(3))
        self.high = int(found.group(4) or found.group(3))
        if not 0 <= self.low <= self.high <= 65535:
            raise AuditError('allowed_ports entry %r: ports go from 0 to 65535, low to high' % (text,))

    def allows(self, sock):
        if self.proto and self.proto != sock.proto:
            return False
        if not self.low <= sock.port <= self.high:
            return False
        if self.address is None:
            return True
        address = ipaddress.ip_address(sock.address)
        address = getattr(address, 'ipv4_mapped', None) or address
        return address == self.address


def socket_owners(inodes, proc='/proc'):
    """{socket inode: 'pid N (comm)'} from /proc/*/fd, for the inodes asked for."""
    owners = {}
    wanted = dict(('socket:[%d]' % inode, inode) for inode in inodes)
    if not wanted:
        return owners
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return owners
    for pid in pids:
        base = os.path.join(proc, pid, 'fd')
        try:
            fds = os.listdir(base)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(base, fd))
            except OSError:
                continue
            inode = wanted.get(target)
            if inode is not None and inode not in owners:
                try:
                    with open(os.path.join(proc, pid, 'comm')) as handle:
                        comm = handle.read().strip()
                except (IOError, OSError):
                    comm = '?'
                owners[inode] = 'pid %s (%s)' % (pid, comm)
    return owners


def audit_ports(sockets, rules, allow_loopback):
    """(findings, listening) for the sockets no rule allows; ``listening`` lists every socket."""
    listening = []
    bad = []
    for sock in sorted(sockets, key=lambda item: (item.proto, item.port, item.table, item.address)):
        allowed = any(rule.allows(sock) for rule in rules) or (allow_loopback and sock.loopback)
        listening.append({'endpoint': sock.endpoint, 'proto': sock.proto, 'address': sock.address,
                          'port': sock.port, 'uid': sock.uid, 'allowed': allowed})
        if not allowed:
            bad.append(sock)
    owners = socket_owners([sock.inode for sock in bad if sock.inode])
    findings = []
    for sock in bad:
        owner = owners.get(sock.inode)
        where = 'loopback only' if sock.loopback else 'reachable from other hosts unless a firewall stops it'
        findings.append(finding(
            'listening_port', '%s listens (%s), uid %d%s, and allowed_ports does not list it'
            % (sock.endpoint, where, sock.uid, ', ' + owner if owner else ''),
            'stop the service or bind it to 127.0.0.1 if nothing else must reach it; otherwise add %s/%d to '
            'allowed_ports' % (sock.proto, sock.port),
            value=sock.endpoint, proto=sock.proto, address=sock.address, port=sock.port, uid=sock.uid,
            process=owner))
    return findings, listening
