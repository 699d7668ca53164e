"""Reading the outcome of a service_recovery run, and asking the service it recovers."""

import urllib.error
import urllib.request


def status_of(url):
    """The HTTP status a URL answers with, None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def report(run):
    """{name: result} as the always section of each service recorded it."""
    for play in run.data['plays']:
        for task in play['tasks']:
            if task['task']['name'].endswith("Show each service's outcome and steps"):
                found = {}
                for entry in task['hosts']['localhost']['msg']:
                    for title, steps in entry.items():
                        name, _sep, outcome = title.rpartition(': ')
                        found[name] = {'outcome': outcome, 'steps': steps}
                return found
    raise AssertionError('no report in the run:\n%s' % run.stdout[-3000:])
