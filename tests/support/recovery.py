"""Reading the outcome of a service_recovery run from ansible-playbook's JSON output."""


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
