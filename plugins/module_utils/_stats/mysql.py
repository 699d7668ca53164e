# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_stats for MySQL and MariaDB: information_schema for sizes and indexes,
performance_schema (when it is on) for index use and statement digests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.common import (
    QUERY_CHARS, human, mib, plain)
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.indexes import find_duplicates
from ansible_collections.caretaker.maintenance.plugins.module_utils._stats.snapshot import iso

SYSTEM_SCHEMAS = ('mysql', 'information_schema', 'performance_schema', 'sys')
_NOT_SYSTEM = 'NOT IN (%s)' % ', '.join("'%s'" % name for name in SYSTEM_SCHEMAS)
_PS_OFF = ('performance_schema is OFF: set performance_schema=ON in the server configuration and restart '
           'the server to get %s')


def _scope(engine, column):
    """Tables of the database option when it is set, else of every user schema."""
    if engine.conn.database:
        return '%s = %%s' % column, (engine.conn.database,)
    return '%s %s' % (column, _NOT_SYSTEM), ()


def sizes(engine, c):
    databases = plain(engine.query(
        'SELECT s.SCHEMA_NAME AS name, COALESCE(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0) AS size_bytes'
        ' FROM information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME'
        ' WHERE s.SCHEMA_NAME ' + _NOT_SYSTEM + ' GROUP BY s.SCHEMA_NAME ORDER BY 2 DESC, 1'))
    where, args = _scope(engine, 'TABLE_SCHEMA')
    tables = plain(engine.query(
        "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS name,"
        ' COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS size_bytes, DATA_LENGTH AS table_bytes,'
        ' INDEX_LENGTH AS index_bytes, TABLE_ROWS AS `rows`, DATA_FREE AS free_bytes, ENGINE AS engine'
        " FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND " + where + ' ORDER BY 2 DESC, 1',
        args or None))
    c.sizes = {'unit': 'bytes', 'databases': dict((row['name'], row['size_bytes']) for row in databases),
               'tables': dict((row['name'], row['size_bytes']) for row in tables)}
    c.stats['sizes'] = {'databases': databases[:c.top], 'tables': tables[:c.top], 'tables_total': len(tables),
                        'tables_of': engine.conn.database or 'all user schemas'}
    if engine.conn.database:
        size = c.sizes['databases'].get(engine.conn.database, 0)
        detail = 'database %s is %s' % (engine.conn.database, human(size))
    else:
        size = sum(c.sizes['databases'].values())
        detail = '%d user schemas hold %s' % (len(databases), human(size))
    if tables:
        detail += '; largest table %s %s' % (tables[0]['name'], human(tables[0]['size_bytes']))
    c.measure('database_size', mib(size), 'MiB', detail + ' (InnoDB estimates, refreshed by ANALYZE TABLE)',
              bytes=size)


def _index_sizes(engine):
    """Index sizes from InnoDB's persistent statistics, or {} when they cannot be read."""
    try:
        page = int(engine.variable('VARIABLES', 'innodb_page_size') or 16384)
        rows = engine.query("SELECT database_name, table_name, index_name, stat_value FROM mysql.innodb_index_stats"
                            " WHERE stat_name = 'size'")
    except EngineError:
        return {}
    return dict(((row['database_name'], row['table_name'], row['index_name']), int(row['stat_value']) * page)
                for row in rows)


def _index_list(engine):
    where, args = _scope(engine, 'TABLE_SCHEMA')
    rows = engine.query(
        'SELECT TABLE_SCHEMA AS `schema`, TABLE_NAME AS `table`, INDEX_NAME AS name, NON_UNIQUE AS non_unique,'
        ' COLUMN_NAME AS `column`, SUB_PART AS sub_part, INDEX_TYPE AS method'
        ' FROM information_schema.STATISTICS WHERE ' + where +
        ' ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX', args or None)
    sizes = _index_sizes(engine)
    indexes = {}
    for row in rows:
        key = (row['schema'], row['table'], row['name'])
        column = row['column'] or '(expression)'
        index = indexes.setdefault(key, {
            'table': '%s.%s' % (row['schema'], row['table']), 'name': row['name'], 'keys': (), 'includes': (),
            'columns': [], 'unique': not int(row['non_unique']), 'primary': row['name'] == 'PRIMARY',
            'method': (row['method'] or '').lower(), 'match': (), 'size_bytes': sizes.get(key)})
        index['keys'] += ((column, row['sub_part']),)
        index['columns'].append(column + ('(%s)' % row['sub_part'] if row['sub_part'] else ''))
    for index in indexes.values():
        index['definition'] = '%s%s (%s) USING %s' % (
            'UNIQUE ' if index['unique'] and not index['primary'] else '',
            'PRIMARY KEY' if index['primary'] else 'INDEX `%s`' % index['name'],
            ', '.join(index['columns']), index['method'].upper())
    return [indexes[key] for key in sorted(indexes)]


def _performance_schema(engine):
    return (engine.variable('VARIABLES', 'performance_schema') or '').upper() == 'ON'


def _enabled(engine, table, name):
    rows = engine.query('SELECT ENABLED AS enabled FROM performance_schema.%s WHERE NAME = %%s' % table, (name,))
    return bool(rows) and rows[0]['enabled'] == 'YES'


def _unused(engine, c, indexes):
    if not _performance_schema(engine):
        c.note('indexes', _PS_OFF % 'unused indexes')
        return None
    if not _enabled(engine, 'setup_instruments', 'wait/io/table/sql/handler'):
        c.note('indexes', "the performance_schema instrument wait/io/table/sql/handler is disabled: enable it"
               " (UPDATE performance_schema.setup_instruments, or performance-schema-instrument in the server"
               " configuration) to get unused indexes")
        return None
    uses = dict(((row['schema'], row['table'], row['name']), int(row['uses'])) for row in engine.query(
        'SELECT OBJECT_SCHEMA AS `schema`, OBJECT_NAME AS `table`, INDEX_NAME AS name, COUNT_STAR AS uses'
        ' FROM performance_schema.table_io_waits_summary_by_index_usage WHERE INDEX_NAME IS NOT NULL'))
    unused = []
    for index in indexes:
        schema, table = index['table'].split('.', 1)
        if index['unique'] or index['primary'] or uses.get((schema, table, index['name']), 0):
            continue
        unused.append({'table': index['table'], 'name': index['name'], 'scans': 0, 'size_bytes': index['size_bytes'],
                       'definition': index['definition']})
    unused.sort(key=lambda row: (-(row['size_bytes'] or 0), row['table'], row['name']))
    return unused


def indexes(engine, c):
    listed = _index_list(engine)
    unused = _unused(engine, c, listed)
    c.index_items(unused, find_duplicates(listed))
    if unused is not None:
        c.stats['indexes']['unused_since'] = iso(time.time() - engine.uptime())


def slow_queries(engine, c):
    if not _performance_schema(engine):
        c.note('slow_queries', _PS_OFF % 'statement digests (slow queries)')
        return
    if not _enabled(engine, 'setup_consumers', 'statements_digest'):
        c.note('slow_queries', "the performance_schema consumer statements_digest is disabled: enable it"
               " (UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = 'statements_digest')"
               " to get slow queries")
        return
    # Timers are in picoseconds.
    rows = engine.query(
        'SELECT SCHEMA_NAME AS `database`, COUNT_STAR AS calls, ROUND(AVG_TIMER_WAIT / 1e9, 3) AS mean_ms,'
        ' ROUND(MAX_TIMER_WAIT / 1e9, 3) AS max_ms, ROUND(SUM_TIMER_WAIT / 1e9, 3) AS total_ms,'
        ' SUM_ROWS_SENT AS `rows`, SUM_ROWS_EXAMINED AS rows_examined, LAST_SEEN AS last_seen,'
        ' LEFT(DIGEST_TEXT, %s) AS query'
        ' FROM performance_schema.events_statements_summary_by_digest'
        ' WHERE DIGEST_TEXT IS NOT NULL AND AVG_TIMER_WAIT >= %s ORDER BY AVG_TIMER_WAIT DESC',
        (QUERY_CHARS, int(c.slow_query_min_ms * 1e9)))
    c.slow_items(plain(rows), 'performance_schema digests')


def cache(engine, c):
    requests = int(engine.variable('STATUS', 'Innodb_buffer_pool_read_requests') or 0)
    reads = int(engine.variable('STATUS', 'Innodb_buffer_pool_reads') or 0)
    c.buffer_cache(max(0, requests - reads), reads, 'InnoDB buffer pool', 'page reads')


def connections(engine, c):
    used, maximum = engine.connections()
    c.connections(used, maximum, 'max_connections')


SECTIONS = {
    'sizes': sizes,
    'indexes': indexes,
    'slow_queries': slow_queries,
    'cache': cache,
    'connections': connections,
}
