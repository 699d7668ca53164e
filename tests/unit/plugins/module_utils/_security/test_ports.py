# -*- coding: utf-8 -*-
"""/proc/net lines: addresses in kernel byte order, LISTEN and unconnected UDP only; allowed_ports rules."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.caretaker.maintenance.plugins.module_utils._security.common import AuditError
from ansible_collections.caretaker.maintenance.plugins.module_utils._security.ports import (
    PortRule, Socket, audit_ports, decode_address, parse_table, read_sockets)
from tests.support.sockets import loopback_listener

HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
TCP = HEADER + (
    '   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0\n'
    '   1: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 1002 1 0 100 0 0 10 0\n'
    '   2: 0100007F:AC56 0100007F:18EB 01 00000000:00000000 03:000015EB 00000000     0        0 0 3 0\n')
TCP6 = HEADER + (
    '   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A '
    '00000000:00000000 00:00000000 00000000   999        0 2001 1 0 100 0 0 10 0\n'
    '   1: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A '
    '00000000:00000000 00:00000000 00000000     0        0 2002 1 0 100 0 0 10 0\n')
UDP = HEADER + (
    '  10: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 3001 2 0 0\n'
    '  11: 0100007F:9C40 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 3002 2 0 0\n')


def test_addresses_decode_in_kernel_byte_order():
    assert decode_address('0100007F:1F90') == ('127.0.0.1', 8080)
    assert decode_address('00000000000000000000000001000000:1538') == ('::1', 5432)
    assert decode_address('0000000000000000FFFF00000100007F:0050') == ('::ffff:127.0.0.1', 80)
    assert decode_address('0A01A8C0:01BB') == ('192.168.1.10', 443)


def test_only_listening_tcp_and_unconnected_udp_count():
    tcp = parse_table(TCP, 'tcp')
    assert [(s.address, s.port, s.uid, s.inode) for s in tcp] == [('0.0.0.0', 22, 0, 1001), ('127.0.0.1', 6379, 106, 1002)]
    udp = parse_table(UDP, 'udp')
    assert [(s.proto, s.address, s.port) for s in udp] == [('udp', '127.0.0.53', 53)]
    tcp6 = parse_table(TCP6, 'tcp6')
    assert [s.endpoint for s in tcp6] == ['tcp/[::1]:5432', 'tcp/[::ffff:127.0.0.1]:80']
    assert all(s.loopback for s in tcp6) and not tcp[0].loopback


def test_rules_protocol_address_range():
    sock = Socket('tcp6', '::1', 5432, 0, 0)
    assert PortRule('5432').allows(sock)
    assert PortRule('tcp/5432').allows(sock)
    assert not PortRule('udp/5432').allows(sock)
    assert PortRule('tcp/[::1]:5432').allows(sock)
    assert not PortRule('tcp/127.0.0.1:5432').allows(sock)
    assert PortRule('tcp/5000-6000').allows(sock)
    assert PortRule('*:5432').allows(sock)
    mapped = Socket('tcp6', '::ffff:127.0.0.1', 80, 0, 0)
    assert PortRule('tcp/127.0.0.1:80').allows(mapped)


@pytest.mark.parametrize('text', ['ssh', 'tcp/70000', 'icmp/1', 'tcp/host:22', 'tcp/30-20'])
def test_bad_rules_name_the_option(text):
    with pytest.raises(AuditError, match='allowed_ports'):
        PortRule(text)


def test_findings_for_sockets_not_allowed_with_loopback_switch():
    sockets = parse_table(TCP, 'tcp') + parse_table(UDP, 'udp')
    findings, listening = audit_ports(sockets, [PortRule('tcp/22')], allow_loopback=False)
    assert [item['value'] for item in findings] == ['tcp/127.0.0.1:6379', 'udp/127.0.0.53:53']
    assert 'loopback only' in findings[0]['detail'] and 'allowed_ports' in findings[0]['fix']
    assert [item['allowed'] for item in listening] == [True, False, False]
    findings, _listening = audit_ports(sockets, [PortRule('tcp/22')], allow_loopback=True)
    assert findings == []


def test_a_socket_this_test_opens_is_read_from_proc_with_its_process():
    with loopback_listener() as port:
        sockets, problems = read_sockets()
        assert problems == []
        mine = [sock for sock in sockets if sock.proto == 'tcp' and sock.port == port]
        assert len(mine) == 1 and mine[0].address == '127.0.0.1'
        findings, _listening = audit_ports(mine, [], allow_loopback=False)
        assert findings[0]['process'] and findings[0]['process'].startswith('pid ')
