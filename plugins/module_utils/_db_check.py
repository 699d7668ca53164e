# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_check: turn each backend's health signals into status items."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.base import EngineError
from ansible_collections.caretaker.maintenance.plugins.module_utils._engines.registry import get_engine
from ansible_collections.caretaker.maintenance.plugins.module_utils._status import (
    ABOVE, BELOW, CRITICAL, OK, Threshold, check_item, measured_item, resolve_thresholds, summarize)

# Defaults from the runbooks: connections warn at 80 % of max and are critical at 95 %;
# any query running over 5 minutes deserves a look. A ping of half a second means the
# server or the network is struggling long before the application times out.
DEFAULT_THRESHOLDS = {
    'latency': Threshold(500, 2000, ABOVE),
    'connections': Threshold(80, 95, ABOVE),
    'long_queries': Threshold(1, 5, ABOVE),
    'database_size': Threshold(None, None, ABOVE),
    'uptime': Threshold(None, None, BELOW),
    'memory': Threshold(80, 95, ABOVE),
    'rejected_connections': Threshold(1, None, ABOVE),
    'hit_ratio': Threshold(None, None, BELOW),
}

MAX_PARALLEL = 8


def check_target(conn, long_query_seconds, task_thresholds, target_thresholds=None):
    """Status items for one datastore. Never raises for a server problem: an
    unreachable or failing server becomes a critical item naming host:port."""
    thresholds = resolve_thresholds(DEFAULT_THRESHOLDS, task_thresholds, target_thresholds)
    engine = get_engine(conn)
    label = engine.label
    items = []
    try:
        with engine:
            latency = engine.ping()
            items.append(measured_item(
                '%s latency' % label, round(latency, 2), thresholds['latency'], 'ms',
                'reachable, round trip %.2f ms' % latency, target=label, signal='latency'))
            for signal in engine.health(long_query_seconds):
                threshold = thresholds.get(signal.key)
                extra = dict(signal.extra)
                name = '%s %s' % (label, signal.key)
                if extra.pop('informational', False) or threshold is None:
                    # Facts such as the version, or a value with nothing to compare to.
                    item = check_item(name, OK, value=signal.value, unit=signal.unit, detail=signal.detail,
                                      target=label, signal=signal.key, **extra)
                else:
                    item = measured_item(name, signal.value, threshold, signal.unit, signal.detail,
                                         target=label, signal=signal.key, **extra)
                items.append(item)
    except EngineError as exc:
        items.append(check_item('%s reachable' % label, CRITICAL, detail=getattr(exc, 'reason', '%s' % exc), target=label,
                                signal='reachable'))
    return items


def run_checks(specs, long_query_seconds, task_thresholds, per_target_thresholds):
    """Items of every target, in the order the targets were given."""
    jobs = list(zip(specs, per_target_thresholds))
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL, len(jobs)))) as pool:
        futures = [pool.submit(check_target, conn, long_query_seconds, task_thresholds, own)
                   for conn, own in jobs]
        items = []
        for future in futures:
            items.extend(future.result())
    return summarize(items, what='datastore checks')
