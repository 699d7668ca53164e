"""Start or stop the demo stack in .demo/ of the checkout.

    python -m demo.stack start|stop|status

Real PostgreSQL, MariaDB and Redis servers, the MongoDB wire-protocol server and a
tiny HTTP API, all on loopback at fixed ports so inventories/demo can name them.
Passwords are random, kept in .demo/secrets/ (0600), and read by the inventory
through a file lookup: they are never on a command line or in the inventory.
"""

import argparse
import datetime
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import servers

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / '.demo'
PORTS = {'postgresql': 25432, 'mysql': 23306, 'redis': 26379, 'mongodb': 27117}
APP_PORT = 28080


def _write_secret(path, text):
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)


def _app_pid_file():
    return DEMO_DIR / 'app.pid'


def _app_alive():
    try:
        pid = int(_app_pid_file().read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _seed_data(started):
    """A little application data in each datastore, so backups have something to hold and the
    retention rules of inventories/demo have old rows to archive, delete and anonymise."""
    import psycopg2
    import pymongo
    import pymysql
    import redis
    pg, my, rd = started['postgresql'], started['mysql'], started['redis']
    with psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password, dbname=pg.database) as conn:
        with conn.cursor() as cur:
            cur.execute('CREATE TABLE IF NOT EXISTS appointments (id serial PRIMARY KEY, patient text,'
                        ' starts_at timestamptz, status text)')
            cur.execute("INSERT INTO appointments (patient, starts_at, status) SELECT 'patient ' || n,"
                        " now() - n * interval '1 day', (ARRAY['booked','done','cancelled'])[1 + n % 3]"
                        " FROM generate_series(1, 1000) AS n")  # about 270 older than two years
    conn = pymysql.connect(host=my.host, port=my.port, user=my.user, password=my.password, database=my.database,
                           autocommit=True)
    with conn.cursor() as cur:
        cur.execute('CREATE TABLE IF NOT EXISTS sessions (id INT AUTO_INCREMENT PRIMARY KEY,'
                    ' token VARCHAR(64), last_seen DATETIME)')
        cur.executemany('INSERT INTO sessions (token, last_seen) VALUES (%s, NOW() - INTERVAL %s DAY)',
                        [('token-%d' % n, n) for n in range(300)])
        cur.execute('CREATE TABLE IF NOT EXISTS notification_logs (id INT AUTO_INCREMENT PRIMARY KEY,'
                    ' sent_at DATETIME NOT NULL, channel VARCHAR(16), body TEXT)')
        cur.executemany('INSERT INTO notification_logs (sent_at, channel, body) VALUES (NOW() - INTERVAL %s DAY, %s, %s)',
                        [(n, 'telegram' if n % 2 else 'email', 'reminder %d' % n) for n in range(400)])
    conn.close()
    cache = redis.Redis(host=rd.host, port=rd.port, password=rd.password)
    for n in range(200):
        cache.set('cache:item:%d' % n, 'value %d' % n, ex=86400 if n % 2 else None)
    _seed_cache(cache)
    cache.close()
    mongo = pymongo.MongoClient('127.0.0.1', started['mongodb'].port, directConnection=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    mongo.appdb.deliveries.insert_many([{'n': n, 'status': 'completed' if n % 4 else 'pending',
                                         'created_at': now - datetime.timedelta(days=n)} for n in range(400)])
    mongo.appdb.call_logs.insert_many([{'n': n, 'status': ('completed', 'failed', 'missed')[n % 3],
                                        'started_at': now - datetime.timedelta(days=n)} for n in range(0, 500, 2)])
    mongo.appdb.customers.insert_many([{'name': 'customer %d' % n, 'phone': '+1555%07d' % n,
                                        'created_at': now - datetime.timedelta(days=5 * n)} for n in range(300)])
    mongo.close()


def _seed_cache(cache):
    """What the cache rules of inventories/demo clean: analytics counters without a TTL, web
    sessions idle for weeks, and a Bull queue with completed and failed jobs of all ages."""
    import json
    now_ms = int(time.time() * 1000)
    day_ms = 86400 * 1000
    for n in range(50):
        cache.incrby('analytics:page:%d' % n, n + 1)
    for n in range(40):
        cache.set('sess:%d' % n, json.dumps({'user': n, 'lastActivity': now_ms - n * day_ms}))
    prefix = 'bull:notifications:'
    for n in range(1, 31):
        finished = now_ms - n * 12 * 3600 * 1000  # every twelve hours over fifteen days
        state = 'failed' if n % 3 == 0 else 'completed'
        cache.hset('%s%d' % (prefix, n), mapping={'name': 'notify', 'data': '{}', 'timestamp': finished - 1000,
                                                  'finishedOn': finished})
        cache.zadd(prefix + state, {str(n): finished})
    for n in range(31, 36):
        cache.hset('%s%d' % (prefix, n), mapping={'name': 'notify', 'data': '{}', 'timestamp': now_ms})
        cache.lpush(prefix + 'wait', str(n))
    cache.set(prefix + 'id', 35)


def _seed_logs(log_dir):
    """Log files for the log roles to find: an access log with some errors and an app log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    app_log = log_dir / 'app.log'
    if not app_log.exists():
        with app_log.open('w') as handle:
            for n in range(200):
                level = 'ERROR' if n % 25 == 0 else 'INFO'
                handle.write('2026-01-01T00:%02d:%02dZ %s request %d handled\n' % (n // 60, n % 60, level, n))
    # Rotated logs from earlier months for the cleanup rules: one to compress, one to delete.
    now = time.time()
    for name, days, payload in (('app.log.3', 45, b'older lines\n' * 500), ('app.log.9.gz', 120, None)):
        path = log_dir / name
        if not path.exists():
            if payload is None:
                payload = gzip.compress(b'archived lines\n' * 500)
            path.write_bytes(payload)
            os.utime(path, (now - days * 86400, now - days * 86400))


def start():
    DEMO_DIR.mkdir(mode=0o700, exist_ok=True)
    state = servers.load_state(DEMO_DIR) if (DEMO_DIR / 'state.json').exists() else {}
    if state and all(server.alive() for server in state.values()):
        print('datastores already running')
    else:
        if state:
            servers.stop_all(DEMO_DIR)
        started = servers.start_all(DEMO_DIR, ports=PORTS)
        servers.save_state(DEMO_DIR, started)
        for engine, server in started.items():
            if server.password:
                _write_secret(DEMO_DIR / 'secrets' / engine, server.password)
        _seed_data(started)
    log_dir = DEMO_DIR / 'logs'
    _seed_logs(log_dir)
    if not _app_alive():
        with open(log_dir / 'app-stderr.log', 'ab') as err:
            app = subprocess.Popen(
                [sys.executable, str(ROOT / 'demo' / 'app.py'), '--port', str(APP_PORT),
                 '--access-log', str(log_dir / 'access.log'), '--alerts-log', str(DEMO_DIR / 'alerts.jsonl')],
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        _app_pid_file().write_text(str(app.pid))
        _wait_http(APP_PORT)
    status()


def _wait_http(port, timeout=15):
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen('http://127.0.0.1:%d/health' % port, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit('demo API did not answer on 127.0.0.1:%d; see .demo/logs/app-stderr.log' % port)


def stop():
    pid = _app_alive()
    if pid:
        os.kill(pid, signal.SIGTERM)
    _app_pid_file().unlink(missing_ok=True)
    if (DEMO_DIR / 'state.json').exists():
        servers.stop_all(DEMO_DIR)
    print('demo stack stopped')


def status():
    if (DEMO_DIR / 'state.json').exists():
        for engine, server in servers.load_state(DEMO_DIR).items():
            state = 'running' if server.alive() else 'stopped'
            print('%-11s 127.0.0.1:%-6d pid %-7d %s' % (engine, server.port, server.pid, state))
    pid = _app_alive()
    print('%-11s 127.0.0.1:%-6d pid %-7s %s' % ('api', APP_PORT, pid or '-', 'running' if pid else 'stopped'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('action', choices=['start', 'stop', 'status'])
    action = parser.parse_args().action
    {'start': start, 'stop': stop, 'status': status}[action]()


if __name__ == '__main__':
    main()
