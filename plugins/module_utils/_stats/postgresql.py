# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_stats for PostgreSQL: the cluster's databases, and tables, indexes and vacuum state of
the database connected to. Catalog and statistics views only; nothing is changed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.common import (
    MIN_VACUUM_ROWS, QUERY_CHARS, human, mib, plain)
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.indexes import find_duplicates

_USER_SCHEMAS = ("n.nspname NOT IN ('pg_catalog', 'information_schema')"
                 " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'")


def _dbname(engine):
    return engine.scalar('SELECT current_database()')


def sizes(engine, c):
    databases = engine.query(
        "SELECT datname AS name, pg_database_size(oid) AS size_bytes FROM pg_database"
        " WHERE datallowconn AND NOT datistemplate AND has_database_privilege(oid, 'CONNECT')"
        " ORDER BY 2 DESC, 1")
    tables = engine.query(
        "SELECT n.nspname || '.' || t.relname AS name, pg_total_relation_size(t.oid) AS size_bytes,"
        " pg_table_size(t.oid) AS table_bytes, pg_indexes_size(t.oid) AS index_bytes,"
        " greatest(t.reltuples, 0)::bigint AS rows"
        " FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE t.relkind IN ('r', 'm') AND " + _USER_SCHEMAS +
        " ORDER BY 2 DESC, 1")
    databases, tables = plain(databases), plain(tables)
    current = _dbname(engine)
    c.sizes = {'unit': 'bytes', 'databases': dict((row['name'], row['size_bytes']) for row in databases),
               'tables': dict((row['name'], row['size_bytes']) for row in tables)}
    c.stats['sizes'] = {'databases': databases[:c.top], 'tables': tables[:c.top], 'tables_total': len(tables),
                        'tables_of': current}
    size = c.sizes['databases'].get(current, 0)
    detail = 'database %s is %s' % (current, human(size))
    if tables:
        detail += '; largest table %s %s' % (tables[0]['name'], human(tables[0]['size_bytes']))
    c.measure('database_size', mib(size), 'MiB', detail, bytes=size)


def vacuum(engine, c):
    rows = plain(engine.query(
        "SELECT schemaname || '.' || relname AS name, n_live_tup AS live_rows, n_dead_tup AS dead_rows,"
        " CASE WHEN n_live_tup + n_dead_tup > 0"
        "  THEN round(100.0 * n_dead_tup / (n_live_tup + n_dead_tup), 2)::float ELSE 0 END AS dead_percent,"
        " last_vacuum, last_autovacuum, last_analyze, last_autoanalyze,"
        " vacuum_count, autovacuum_count, analyze_count, autoanalyze_count,"
        " n_mod_since_analyze AS modified_since_analyze"
        " FROM pg_stat_user_tables ORDER BY n_dead_tup DESC, 1"))
    reset = plain(engine.scalar('SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()'))
    c.stats['vacuum'] = {'tables': rows[:c.top], 'tables_total': len(rows), 'stats_reset': reset,
                         'never_analyzed': [row['name'] for row in rows if row['live_rows'] and not
                                            (row['last_analyze'] or row['last_autoanalyze'])][:c.top]}
    sized = [row for row in rows if row['live_rows'] + row['dead_rows'] >= MIN_VACUUM_ROWS]
    worst = max(sized, key=lambda row: row['dead_percent']) if sized else None
    if worst is None or not worst['dead_rows']:
        c.measure('dead_tuples', 0.0, 'percent', 'no table of %d rows or more has dead rows' % MIN_VACUUM_ROWS)
        return
    last = worst['last_autovacuum'] or worst['last_vacuum'] or 'never'
    c.measure('dead_tuples', worst['dead_percent'], 'percent',
              '%s has %d dead rows, %s%% of its rows; last vacuum %s'
              % (worst['name'], worst['dead_rows'], worst['dead_percent'], last), table=worst['name'])


def _index_list(engine):
    rows = plain(engine.query(
        "SELECT n.nspname || '.' || t.relname AS table, c.relname AS name, i.indisunique AS unique,"
        " i.indisprimary AS primary, i.indnkeyatts AS key_count, i.indkey::text AS attnums,"
        " i.indclass::text AS opclasses, i.indcollation::text AS collations, am.amname AS method,"
        " coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS expressions,"
        " coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS predicate,"
        " pg_relation_size(c.oid) AS size_bytes, pg_get_indexdef(c.oid) AS definition,"
        " ARRAY(SELECT pg_get_indexdef(c.oid, k, true) FROM generate_series(1, i.indnkeyatts) AS k) AS columns"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = c.relam"
        " WHERE i.indisvalid AND " + _USER_SCHEMAS))
    indexes = []
    for row in rows:
        attnums = row['attnums'].split()
        opclasses, collations = row['opclasses'].split(), row['collations'].split()
        count = row['key_count']
        row['keys'] = tuple(zip(attnums[:count], opclasses, collations))
        row['includes'] = tuple(attnums[count:])
        row['match'] = (row['expressions'], row['predicate'])
        indexes.append(row)
    return indexes


def indexes(engine, c):
    duplicate = find_duplicates(_index_list(engine))
    unused = plain(engine.query(
        "SELECT s.schemaname || '.' || s.relname AS table, s.indexrelname AS name, s.idx_scan AS scans,"
        " pg_relation_size(s.indexrelid) AS size_bytes, pg_get_indexdef(s.indexrelid) AS definition"
        " FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid"
        " WHERE s.idx_scan = 0 AND i.indisvalid AND NOT i.indisunique AND NOT i.indisprimary"
        " AND NOT i.indisexclusion AND NOT i.indisreplident"
        " ORDER BY 4 DESC, 1, 2"))
    c.index_items(unused, duplicate)
    c.stats['indexes']['unused_since'] = plain(engine.scalar(
        'SELECT coalesce(stats_reset, pg_postmaster_start_time()) FROM pg_stat_database WHERE datname = current_database()'))


def _pg_stat_statements(engine, c):
    """The schema holding the view, or None with a note saying how to get it."""
    database = _dbname(engine)
    schema = engine.scalar(
        "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_stat_statements'")
    preload = engine.scalar("SELECT current_setting('shared_preload_libraries')") or ''
    loaded = 'pg_stat_statements' in [part.strip().strip('"') for part in preload.split(',')]
    steps = []
    if not loaded:
        steps.append("add pg_stat_statements to shared_preload_libraries and restart the server")
    if schema is None:
        steps.append('run CREATE EXTENSION pg_stat_statements in database %s' % database)
    if steps:
        c.note('slow_queries', 'pg_stat_statements is not %s, so slow queries are not reported: %s'
               % ('loaded' if schema else 'installed', '; then '.join(steps)))
        return None
    return schema


def slow_queries(engine, c):
    schema = _pg_stat_statements(engine, c)
    if schema is None:
        return
    # PostgreSQL 13 renamed mean_time and friends to *_exec_time.
    suffix = '_exec_time' if int(engine.scalar('SHOW server_version_num')) >= 130000 else '_time'
    rows = engine.query(
        "SELECT d.datname AS database, r.rolname AS user, s.calls,"
        " round(s.mean{0}::numeric, 3)::float AS mean_ms, round(s.max{0}::numeric, 3)::float AS max_ms,"
        " round(s.total{0}::numeric, 3)::float AS total_ms, s.rows, left(s.query, %s) AS query"
        " FROM {1}.pg_stat_statements s LEFT JOIN pg_database d ON d.oid = s.dbid"
        " LEFT JOIN pg_roles r ON r.oid = s.userid"
        " WHERE s.mean{0} >= %s ORDER BY s.mean{0} DESC".format(suffix, schema),
        (QUERY_CHARS, float(c.slow_query_min_ms)))
    c.slow_items(plain(rows), 'pg_stat_statements')


def cache(engine, c):
    row = engine.query('SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()')[0]
    c.buffer_cache(int(row['blks_hit']), int(row['blks_read']), 'pg_stat_database', 'block reads')


def connections(engine, c):
    used, maximum = engine.connections()
    c.connections(used, maximum, 'max_connections')


SECTIONS = {
    'sizes': sizes,
    'vacuum': vacuum,
    'indexes': indexes,
    'slow_queries': slow_queries,
    'cache': cache,
    'connections': connections,
}
