# -*- coding: utf-8 -*-
# Copyright: caretaker.maintenance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retention policy for one series: which backups to keep, with every reason (pure, no I/O).

The keep_* rules follow restic's ``forget``: backups are walked newest first; keep_daily N
keeps the newest backup of each of the N most recent distinct days that have one (likewise
hourly, ISO weekly, monthly, yearly); when a count is not used up by the oldest backup, that
oldest backup is kept too, so a young series keeps its full reach; keep_within keeps every
backup newer than the newest backup's time minus the duration. Periods are UTC, the time in
the artifact names. A backup kept by any rule is kept, and every rule that keeps it is named.

Then the safety guards, which no policy overrides: the newest verified backup and anything
newer than it are kept; a series with no verified backup keeps everything while
``require_verified`` is set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.caretaker.maintenance.plugins.module_utils._duration import Duration, DurationError

COUNT_OPTIONS = ('keep_last', 'keep_hourly', 'keep_daily', 'keep_weekly', 'keep_monthly', 'keep_yearly')
POLICY_OPTIONS = COUNT_OPTIONS + ('keep_within',)

NEWEST_VERIFIED = 'newest verified'
NEWER_THAN_VERIFIED = 'newer than newest verified'
NO_VERIFIED = 'no verified backup in this series (require_verified)'

# A policy option that cannot be used; the text names the option and the fix. The same type as a
# bad duration, so callers catch one exception for keep_within, max_age and the keep_* counts.
PolicyError = DurationError


def _hourly(moment):
    return moment.strftime('%Y-%m-%dT%H')


def _daily(moment):
    return moment.strftime('%Y-%m-%d')


def _weekly(moment):
    year, week = moment.isocalendar()[:2]
    return '%d-W%02d' % (year, week)


def _monthly(moment):
    return moment.strftime('%Y-%m')


def _yearly(moment):
    return moment.strftime('%Y')


# (option, label in reasons, period key of a time)
PERIODS = (
    ('keep_hourly', 'hourly', _hourly),
    ('keep_daily', 'daily', _daily),
    ('keep_weekly', 'weekly', _weekly),
    ('keep_monthly', 'monthly', _monthly),
    ('keep_yearly', 'yearly', _yearly),
)


class Policy(object):
    """keep_* counts (0 = rule not used), keep_within (Duration or None), require_verified."""

    def __init__(self, keep_within=None, require_verified=True, **counts):
        unknown = set(counts) - set(COUNT_OPTIONS)
        if unknown:
            raise TypeError('unknown policy options: %s' % ', '.join(sorted(unknown)))
        for option in COUNT_OPTIONS:
            setattr(self, option, counts.get(option) or 0)
        self.keep_within = keep_within
        self.require_verified = require_verified

    @classmethod
    def from_options(cls, options):
        """Build from module options (None = unset); raises PolicyError naming the option."""
        counts = {}
        for option in COUNT_OPTIONS:
            value = options.get(option)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise PolicyError('%s must be a whole number, got %r' % (option, value))
            if value < 0:
                raise PolicyError('%s must be 0 or more (0 = rule not used), got %d' % (option, value))
            counts[option] = value
        within = options.get('keep_within')
        within = Duration.parse(within, 'keep_within') if within not in (None, '') else None
        policy = cls(keep_within=within, require_verified=options.get('require_verified', True), **counts)
        if policy.empty():
            raise PolicyError('no retention policy: set at least one of %s (pruning without a policy would keep '
                              'or delete everything)' % ', '.join(POLICY_OPTIONS))
        return policy

    def empty(self):
        return self.keep_within is None and not any(getattr(self, option) for option in COUNT_OPTIONS)

    def describe(self):
        parts = ['%s %d' % (option, getattr(self, option)) for option in COUNT_OPTIONS if getattr(self, option)]
        if self.keep_within is not None:
            parts.append('keep_within %s' % self.keep_within)
        return ', '.join(parts)


class Decision(object):
    """One backup of the series (all artifacts sharing one timestamp) and why it is kept.

    Artifacts with the same time, such as a dump and its globals dump, are one backup:
    kept or deleted together. It is verified when any of them is.
    """

    def __init__(self, moment):
        self.time = moment
        self.names = []
        self.verified = False
        self.reasons = []

    @property
    def keep(self):
        return bool(self.reasons)

    def __repr__(self):
        return 'Decision(%s, keep=%r, %r)' % (self.time.isoformat(), self.keep, self.reasons)


def _group(backups):
    by_time = {}
    for moment, name, verified in backups:
        decision = by_time.setdefault(moment, Decision(moment))
        decision.names.append(name)
        decision.verified = decision.verified or bool(verified)
    for decision in by_time.values():
        decision.names.sort()
    return sorted(by_time.values(), key=lambda decision: decision.time, reverse=True)


def _latest(decisions, now):
    """The newest backup time not in the future (restic), so clock skew cannot stretch keep_within."""
    if now is not None:
        for decision in decisions:
            if decision.time <= now:
                return decision.time
    return decisions[0].time


def _apply_rules(policy, decisions, latest):
    left = dict((option, getattr(policy, option)) for option in COUNT_OPTIONS)
    last_period = {}
    within_after = policy.keep_within.before(latest) if policy.keep_within is not None else None
    for index, decision in enumerate(decisions):
        oldest = index == len(decisions) - 1
        if within_after is not None and decision.time > within_after:
            decision.reasons.append('within %s' % policy.keep_within)
        if left['keep_last'] > 0:
            left['keep_last'] -= 1
            decision.reasons.append('last #%d' % (index + 1))
        for option, label, period in PERIODS:
            if left[option] <= 0:
                continue
            key = period(decision.time)
            if key != last_period.get(option):
                decision.reasons.append('%s %s' % (label, key))
            elif oldest:
                decision.reasons.append('%s %s (oldest backup, %s not used up)' % (label, key, option))
            else:
                continue
            last_period[option] = key
            left[option] -= 1


def _apply_guards(policy, decisions):
    verified = [decision for decision in decisions if decision.verified]
    if verified:
        newest_verified = verified[0]
        newest_verified.reasons.append(NEWEST_VERIFIED)
        for decision in decisions:
            if decision.time > newest_verified.time:
                decision.reasons.append(NEWER_THAN_VERIFIED)
    elif policy.require_verified:
        for decision in decisions:
            decision.reasons.append(NO_VERIFIED)


def apply(policy, backups, now=None):
    """Decide a series: ``backups`` is an iterable of (aware UTC datetime, name, verified).

    Returns Decisions newest first; ``keep`` is False for the ones to delete. ``now`` only
    keeps future-dated backups from moving keep_within's reference point.
    """
    decisions = _group(backups)
    if decisions:
        _apply_rules(policy, decisions, _latest(decisions, now))
        _apply_guards(policy, decisions)
    return decisions


def newest_verified_time(decisions):
    for decision in decisions:
        if decision.verified:
            return decision.time
    return None
