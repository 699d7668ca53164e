# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Pairs with module_utils/_engines/connection.py: connection_argument_spec().
    DOCUMENTATION = r'''
options:
  engine:
    description:
      - The kind of datastore.
      - Required unless every item of C(targets) sets it (modules that take a C(targets) list).
    type: str
    choices: [mongodb, mysql, postgresql, redis]
  login_host:
    description:
      - Host name or address of the server.
      - Defaults to C(127.0.0.1), or C(localhost) when O(login_unix_socket) is set.
    type: str
  login_port:
    description:
      - TCP port of the server.
      - Defaults to the engine's port, 5432 for PostgreSQL, 3306 for MySQL, 27017 for MongoDB
        and 6379 for Redis.
    type: int
  login_user:
    description:
      - User to log in as.
      - Defaults to C(postgres) for PostgreSQL and C(root) for MySQL; MongoDB and Redis
        log in without a user name when unset.
    type: str
  login_password:
    description:
      - Password of O(login_user), or the Redis C(requirepass) password.
      - Passed to the driver in memory; it never appears on a command line, in the result or in an error message.
    type: str
  login_unix_socket:
    description:
      - Unix socket to connect through instead of TCP.
      - For PostgreSQL this is the socket directory, for MySQL and Redis the socket file.
    type: str
  database:
    description:
      - Database to connect to.
      - For PostgreSQL defaults to C(postgres), for MongoDB it is the authentication database
        (default C(admin)), for Redis the logical database number (default C(0)).
    type: str
  tls:
    description:
      - Connect with TLS. Implied when any of O(tls_ca), O(tls_cert) or O(tls_key) is set.
      - Defaults to V(false).
    type: bool
  tls_ca:
    description:
      - CA certificate file to verify the server's certificate with.
    type: path
  tls_cert:
    description:
      - Client certificate file, for servers that require one.
      - For MongoDB, a PEM file holding both the certificate and its key.
    type: path
  tls_key:
    description:
      - Private key file of O(tls_cert).
    type: path
  tls_verify:
    description:
      - Verify the server's certificate and host name when O(tls) is on.
      - Defaults to V(true). Turn it off only for self-signed test servers.
    type: bool
  connect_timeout:
    description:
      - Seconds to wait for the connection. Queries time out after six times this.
      - Defaults to 5 seconds.
    type: float
notes:
  - In modules with a C(targets) list, options left unset on an item take the task-level value, so shared
    settings such as O(login_host) can be set once.
requirements:
  - psycopg2 for PostgreSQL
  - PyMySQL for MySQL and MariaDB
  - pymongo for MongoDB
  - redis (redis-py) for Redis
'''
