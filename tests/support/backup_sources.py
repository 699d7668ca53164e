"""Data, comparisons and a throwaway RDB loader for the MongoDB and Redis backup tests.

MongoDB data sticks to what nx-27017 stores faithfully (no Decimal128, Regex, Timestamp,
MinKey/MaxKey, Code, UUID-subtype binaries, descending index keys or dots in names).
"""

import contextlib
import datetime
import os
import secrets
import shutil
import subprocess
import tarfile
import time

import bson
import pymongo
import redis

from tests.support import servers


def mongo_client(server):
    return pymongo.MongoClient(server.host, server.port, directConnection=True, serverSelectionTimeoutMS=5000)


def mongo_documents():
    start = datetime.datetime(2026, 1, 1)
    users = [{'_id': n, 'name': 'user %d' % n, 'email': 'u%d@example.test' % n, 'tags': ['a', 'b', 'ü'][:n % 4],
              'big': bson.Int64(n * 10 ** 10), 'score': n / 7.0, 'active': n % 2 == 0, 'nothing': None,
              'at': start + datetime.timedelta(seconds=n), 'blob': os.urandom(n % 40),
              'nested': {'list': [n, {'text': '日本語 🐬 %d' % n}]}} for n in range(1, 1201)]
    events = [{'_id': bson.ObjectId(), 'user': n % 1200, 'kind': 'login' if n % 3 else 'logout', 'n': n}
              for n in range(2500)]
    return {'users': users, 'events': events, 'empty': []}


# Ascending only: nx-27017 reports a descending index key as ascending.
INDEXES = {'users': [('email', 1)], 'events': [('user', 1), ('kind', 1)]}


def index_keys(name):
    return [{'_id': 1}] + ([dict(INDEXES[name])] if name in INDEXES else [])


def mongo_fill(server, database):
    client = mongo_client(server)
    try:
        client.drop_database(database)
        documents = mongo_documents()
        for name, docs in documents.items():
            if docs:
                client[database][name].insert_many(docs)
            else:
                client[database].create_collection(name)
        client[database].users.create_index(INDEXES['users'], unique=True)
        client[database].events.create_index(INDEXES['events'])
        return documents
    finally:
        client.close()


def by_id(docs):
    return sorted(docs, key=lambda doc: str(doc['_id']))


def read_tar(path):
    """{member name: bytes} of the regular files, and the names in archive order."""
    with tarfile.open(path) as archive:
        members = archive.getmembers()
        files = dict((member.name, archive.extractfile(member).read()) for member in members if member.isfile())
    return files, [member.name for member in members]


# --- Redis --------------------------------------------------------------------------------

def redis_client(server, db=0):
    return redis.Redis(host=server.host, port=server.port, password=server.password, db=db)


def redis_fill(server):
    """Every value type, binary data, big values and expiry times in three logical databases."""
    client = redis_client(server)
    client.flushall()
    client.set('string', 'plain')
    client.set('binary', bytes(range(256)))
    client.set('counter', 42)
    client.set('big', os.urandom(200000))
    client.hset('hash', mapping={'name': 'alice', 'age': '30', 'bin': b'\x00\xff'})
    client.hset('bighash', mapping=dict(('f%d' % n, 'v' * (n % 90)) for n in range(1000)))
    client.rpush('list', 'a', 'b', 'c', b'\x00')
    client.sadd('set', 'x', 'y', 'z')
    client.sadd('intset', 1, 2, 3)
    client.zadd('zset', {'one': 1, 'two': 2.5, 'neg': -3})
    client.xadd('stream', {'event': 'login', 'user': '1'}, id='1-1')
    client.xadd('stream', {'event': 'logout', 'user': '1'}, id='2-1')
    client.set('expiring', 'soon', ex=86400)
    client.set('expiring_at', 'later')
    client.pexpireat('expiring_at', int(time.time() * 1000) + 3 * 86400 * 1000 + 123)
    client.close()
    for db, keys in ((2, 5), (15, 1)):
        other = redis_client(server, db)
        for n in range(keys):
            other.set('db%d:key%d' % (db, n), 'value %d' % n, ex=(86400 if n == 0 else None))
        other.close()
    return {'db0': 13, 'db2': 5, 'db15': 1}


def redis_value(client, key):
    kind = client.type(key).decode()
    read = {
        'string': lambda: client.get(key),
        'hash': lambda: client.hgetall(key),
        'list': lambda: client.lrange(key, 0, -1),
        'set': lambda: client.smembers(key),
        'zset': lambda: client.zrange(key, 0, -1, withscores=True),
        'stream': lambda: client.xrange(key),
    }[kind]
    return kind, read(), client.execute_command('PEXPIRETIME', key)


def redis_state(client_for):
    state = {}
    for db in range(16):
        client = client_for(db)
        for key in client.scan_iter(count=1000):
            state[(db, key)] = redis_value(client, key)
        client.close()
    return state


@contextlib.contextmanager
def rdb_server(rdb, workdir):
    """A throwaway redis-server on a free loopback port loading ``rdb`` as its dbfilename.
    The password is in its 0600 config file, not on its command line."""
    workdir.mkdir(mode=0o700)
    shutil.copyfile(rdb, workdir / 'loaded.rdb')
    password, port = secrets.token_urlsafe(12), servers.free_port()
    conf = workdir / 'redis.conf'
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write('port %d\nbind 127.0.0.1\ndir "%s"\ndbfilename loaded.rdb\nsave ""\nappendonly no\n'
                     'daemonize no\nlogfile "%s"\nrequirepass "%s"\n' % (port, workdir, workdir / 'redis.log', password))
    proc = subprocess.Popen([shutil.which('redis-server'), str(conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def client_for(db=0):
            return redis.Redis(host='127.0.0.1', port=port, password=password, db=db, socket_timeout=30)
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, 'redis-server could not load the RDB: %s' % (workdir / 'redis.log').read_text()
            try:
                client_for().ping()
                break
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline, 'redis-server did not answer in 30 s'
                time.sleep(0.05)
        yield client_for
    finally:
        proc.terminate()
        proc.wait(30)


def check_rdb(path):
    checker = shutil.which('redis-check-rdb')
    if checker is None:
        return
    proc = subprocess.run([checker, str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and 'RDB looks OK' in proc.stdout + proc.stderr, proc.stdout + proc.stderr
