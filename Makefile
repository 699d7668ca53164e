# Two entry points: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEB_PACKAGES := postgresql postgresql-client mariadb-server mariadb-client redis-server redis-tools \
	python3-venv git shellcheck docker.io debootstrap age zstd chromium jq cron logrotate systemd openssh-client
# Node.js and npm only where no node is installed (a NodeSource nodejs bundles npm and
# conflicts with Debian's npm package).
NODE_PACKAGES := $(shell command -v npm >/dev/null || echo nodejs npm)
COLLECTION_LINK := $(VENV)/collections/ansible_collections/caretaker/maintenance

.PHONY: deps system-deps venv demo demo-stop test sanity lint unit integration bench clean

deps: system-deps venv

system-deps: .make/system-deps
.make/system-deps: Makefile
	@mkdir -p .make
	@if ! [ -x /usr/lib/postgresql/15/bin/initdb ] || ! command -v mariadbd >/dev/null \
	    || ! command -v redis-server >/dev/null || ! command -v git >/dev/null || ! command -v shellcheck >/dev/null \
	    || ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null \
	    || ! command -v age >/dev/null || ! command -v zstd >/dev/null || ! command -v chromium >/dev/null || ! command -v jq >/dev/null \
	    || ! command -v crontab >/dev/null || ! command -v logrotate >/dev/null || ! command -v systemd-analyze >/dev/null || ! command -v npm >/dev/null || ! command -v ssh >/dev/null \
	    || ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) $(NODE_PACKAGES); \
	fi
	@command -v pm2 >/dev/null || $(SUDO) npm install -g --no-fund --no-audit pm2
	@touch $@

venv: $(BIN)/.installed $(COLLECTION_LINK)
$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@
$(COLLECTION_LINK):
	@mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

# The demo stack lives in .demo/ and is stopped by process id with `make demo-stop`.
# Each demo run writes its run report (JSON, Markdown, HTML) into .demo/reports.
DEMO_PLAYBOOK := ANSIBLE_CALLBACKS_ENABLED=caretaker.maintenance.report CARETAKER_REPORT_DIR=$(CURDIR)/.demo/reports \
	$(BIN)/ansible-playbook -i inventories/demo/hosts.yml
demo: deps
	$(BIN)/python -m demo.stack start
	$(DEMO_PLAYBOOK) playbooks/health.yml
	$(DEMO_PLAYBOOK) playbooks/daily.yml
	$(DEMO_PLAYBOOK) playbooks/weekly.yml
	$(DEMO_PLAYBOOK) playbooks/monthly.yml
	$(DEMO_PLAYBOOK) playbooks/quarterly.yml
	@echo "run reports: $(CURDIR)/.demo/reports (newest: $(CURDIR)/.demo/reports/latest.html)"

demo-stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m demo.stack stop; fi

# Whole suite: unit and integration tests against real servers, sanity, lint.
test: deps unit integration sanity lint

unit: deps
	$(BIN)/python -m pytest -q tests/unit

integration: deps
	$(BIN)/python -m pytest -q tests/integration

sanity: deps
	tests/sanity/run.sh

lint: deps
	tests/sanity/lint.sh

# Benchmarks against peers (never part of make test): figures, not pass/fail.
bench: deps
	@[ -x /usr/lib/nagios/plugins/check_http ] || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends monitoring-plugins-basic; }
	$(BIN)/python tests/bench/bench_http_check.py
	$(BIN)/python tests/bench/bench_log_scan.py
	$(BIN)/python tests/bench/bench_data_retention.py
	$(BIN)/python tests/bench/bench_log_cleanup.py
	$(BIN)/python tests/bench/bench_db_backup.py
	$(BIN)/python tests/bench/bench_scale_daily.py

clean: demo-stop
	rm -rf $(VENV) .make tests/output
