# Postman platform. `make run` starts everything; `make test` runs lint and the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
GENERATED := lib/postman/v1/.generated
PROTOS := $(wildcard protos/postman/v1/*.proto)

.PHONY: install run test test-fast test-serial coverage lint unit audit bench bench-check bench-baseline bench-purge chaos smtp-sink services clean setup chromium dovecot promtool rabbitmq-plugins lock

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# protoc's absolute-import quirk: protos/postman/v1/x.proto generates lib/postman/v1/x_pb2.py importing postman.v1.
$(GENERATED): $(PROTOS) $(INSTALLED)
	@mkdir -p lib/postman/v1
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=lib --grpc_python_out=lib --pyi_out=lib $(PROTOS)
	@touch lib/postman/__init__.py lib/postman/v1/__init__.py $@

$(VENV)/.editable: pyproject.toml $(GENERATED)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v -i -e warning -e '^\s*$$' -e '\*\*\*' -e '!!' || true
	@touch $@

install: $(VENV)/.editable

setup: install rabbitmq-plugins
	@$(VENV)/bin/postmanctl setup

run: setup
	@echo ""
	@echo "  Postman is starting. Open http://localhost:$${GATEWAY_PORT:-8080}/ in your browser and sign in:"
	@echo "  Development: the one-time password is not emailed; the sign-in page links to it in the outbox."
	@echo "  API: http://localhost:$${GATEWAY_PORT:-8080}/v1/ping"
	@echo "  Get an API key:   $(VENV)/bin/postmanctl create-api-key you@agency.gov.sg --label mine"
	@echo "  Emails land in:   $${OUTBOX_DIR:-var/outbox}/ (EMAIL_TRANSPORT=outbox)"
	@echo "  Ctrl-C stops every service."
	@echo ""
	@exec $(VENV)/bin/honcho --no-colour -f Procfile start

lint: install
	$(VENV)/bin/ruff check lib services tests bench migrations tools
	$(VENV)/bin/mypy lib/postman_shared lib/postman_ctl
	$(VENV)/bin/lint-imports --no-cache
	@# the rules import-linter cannot say: layers inside each service, adapters open no transaction and decode no
	@# delivery by hand, the map and the contributing guide match the code
	$(PY) -m pytest -q -p no:cacheprovider tests/unit/test_service_layers.py tests/unit/test_use_case_style.py \
	  tests/unit/test_architecture_map.py tests/unit/test_contributing_guide.py
	$(VENV)/bin/hadolint --config .hadolint.yaml Dockerfile

unit: install
	$(PY) -m pytest tests/unit -q

# Every release the pinned requirements install, checked against PyPI's advisory data (pip-audit): a known
# vulnerability fails; advisory data that cannot be reached prints "dependency audit NOT RUN: <reason>" (exit 0).
audit: install
	$(PY) tools/audit_dependencies.py requirements.txt requirements-dev.txt

# The container image installs only hashed, fully pinned locks (Dockerfile: pip install --require-hashes):
# requirements.lock (every transitive runtime dependency of requirements.txt) and requirements-build.lock (the
# builder stage's tools, from requirements-build.txt). Run after changing either input; tests/deploy/test_image.py
# fails while a lock disagrees with its input. Resolved against PyPI alone (no local pip configuration, find-links or
# constraints), so every hash is one PyPI serves; existing pins are kept (`make lock LOCK_FLAGS=--upgrade` bumps them).
LOCK_COMPILE := env -u PIP_FIND_LINKS -u PIP_CONSTRAINT -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_FLAGS)
lock: $(INSTALLED)
	$(LOCK_COMPILE) --output-file requirements.lock requirements.txt
	$(LOCK_COMPILE) --output-file requirements-build.lock requirements-build.txt

# Lint, then the whole suite on TEST_WORKERS pytest-xdist workers (default: one per core), each with its own database,
# vhost and slice of test ports; tests sharing a started system (a module's or a folder's fixture) stay on one worker
# (a work unit is a module, the contract suite one: tests/conftest.py).
TEST_WORKERS ?= auto
test: install lint chromium dovecot promtool rabbitmq-plugins
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup --durations=15

# The unit tests alone (no database, broker or services to start): well under a minute, for the edit-test loop.
test-fast: install
	$(PY) -m pytest tests/unit -q -p no:cacheprovider

# The whole suite in one process, as before it ran in parallel (to tell a parallel-only failure from a real one).
test-serial: install lint chromium dovecot promtool rabbitmq-plugins
	$(PY) -m pytest -q -p no:cacheprovider

# The whole suite under coverage.py, on TEST_WORKERS workers: every service process a test starts is measured too
# ([tool.coverage] in pyproject.toml). Prints the per-file table and the total, writes var/coverage/html. Reported,
# not gated: the target fails only if a test fails.
coverage: install chromium dovecot promtool rabbitmq-plugins
	@rm -rf var/coverage && mkdir -p var/coverage
	$(PY) -m coverage run -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup; status=$$?; \
	  $(PY) -m coverage combine -q && $(PY) -m coverage report --sort=cover && $(PY) -m coverage html -q; \
	  exit $$status

# Debian's Chromium for the browser tests (tests/browser): nothing to do when present; installed when run as root;
# otherwise (or if the install fails) the browser tests fail, saying how to install it.
chromium:
	@if ! test -x "$${CHROMIUM_PATH:-/usr/bin/chromium}"; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	      echo "could not install chromium: the browser tests will fail"; \
	  else echo "chromium is missing and this is not root: the browser tests will fail (apt-get install chromium)"; fi; \
	fi

# Debian's Dovecot for the bounce mailbox tests (a real IMAP server, tests/support/imap.py): nothing to do when present;
# installed when run as root; otherwise (or if the install fails) those tests fail, saying how to install it.
dovecot:
	@if ! test -x /usr/sbin/dovecot; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's dovecot-imapd for the bounce mailbox tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null) || \
	      echo "could not install dovecot-imapd: the bounce mailbox tests will fail"; \
	  else echo "dovecot is missing and this is not root: the bounce mailbox tests will fail (apt-get install dovecot-imapd)"; fi; \
	fi

# Debian's promtool (package prometheus) for the alerting rules' checks and unit tests (tests/deploy/test_alert_rules.py):
# nothing to do when present; installed when run as root (only promtool is wanted: the package's Prometheus daemon is
# then stopped and disabled, where it was started at all); otherwise (or if the install fails) those tests fail, saying how.
promtool:
	@if ! command -v promtool >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's prometheus package for promtool (the alerting rules' tests)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null) || \
	      echo "could not install prometheus: the alerting rules' tests will fail"; \
	    (systemctl disable --now prometheus >/dev/null 2>&1 || service prometheus stop >/dev/null 2>&1) || true; \
	  else echo "promtool is missing and this is not root: the alerting rules' tests will fail (apt-get install prometheus)"; fi; \
	fi

# RabbitMQ's management plugin (`postmanctl setup` sets the queue policies through its API, for `make run` and each
# test run's vhost) and its Prometheus endpoint: nothing to do when port 15672 answers; enabled when run as root (on
# the running node, else for its next start); otherwise it fails, saying how.
rabbitmq-plugins:
	@if ! (exec 3<>/dev/tcp/127.0.0.1/15672) 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "enabling RabbitMQ's management and prometheus plugins (postmanctl setup sets the queue policies through the management API)"; \
	    rabbitmq-plugins -q enable rabbitmq_management rabbitmq_prometheus >/dev/null 2>&1 || \
	      rabbitmq-plugins -q --offline enable rabbitmq_management rabbitmq_prometheus; \
	    for _ in $$(seq 30); do (exec 3<>/dev/tcp/127.0.0.1/15672) 2>/dev/null && break; sleep 1; done; \
	  else echo "RabbitMQ's management API does not answer on 127.0.0.1:15672 and this is not root: as root, run rabbitmq-plugins enable rabbitmq_management rabbitmq_prometheus"; exit 1; fi; \
	fi

# Postfix's smtp-sink, the SMTP server the email benchmarks send to: nothing to do when present, else installed.
smtp-sink:
	@test -x /usr/sbin/smtp-sink || command -v smtp-sink >/dev/null || \
	  (echo "installing postfix for its smtp-sink" && apt-get update -qq && \
	   DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null)

bench: install rabbitmq-plugins smtp-sink
	$(PY) bench/email_campaign.py
	$(PY) bench/transactional_latency.py
	$(PY) bench/stages.py
	$(PY) bench/upload_processing.py
	$(PY) bench/recipient_file.py
	$(PY) bench/spreadsheet_upload.py
	$(PY) bench/sms_rate.py
	$(PY) bench/telegram_rate.py
	$(PY) bench/web_pages.py

# Does the retention purge slow a sending campaign? A 100,000-recipient campaign alone, then again while the purge
# redacts an old campaign of 1,000,000 recipient rows (issue 16: at most 10% slower). See bench/purge.py for options.
bench-purge: install rabbitmq-plugins smtp-sink
	$(PY) bench/purge.py --finish

# A fresh email benchmark (the plain campaign, BENCH_CHECK_RECIPIENTS recipients) compared with the committed
# bench/baseline.json by bench/check.py: fails when the pipeline's CPU per recipient or the upload's CPU per row, each
# relative to a bare csv.reader loop's CPU per row in the same run, rose more than 25%. Both runs must be made on a
# quiet machine (else exit 3, not compared). `make bench-baseline` makes the same run and writes its results as the
# new baseline (commit it).
BENCH_CHECK_RECIPIENTS ?= 100000
BENCH_CHECK_RUN = $(PY) bench/email_campaign.py --recipients $(BENCH_CHECK_RECIPIENTS) --suppressed-share 0 --name bench_check
bench-check: install rabbitmq-plugins smtp-sink
	$(BENCH_CHECK_RUN)
	$(PY) bench/check.py bench/baseline.json bench/out/bench_check.json

bench-baseline: install rabbitmq-plugins smtp-sink
	$(BENCH_CHECK_RUN)
	$(PY) bench/check.py --promote bench/out/bench_check.json bench/baseline.json

# Faults at scale (issue 15): an email, an SMS and a Telegram campaign at once, to the local fake providers, while
# services are SIGKILLed (and restarted) and the broker's and the database's connections are cut; fails (exit 1) if
# any recipient was lost. A few minutes; not part of `make test`. See bench/chaos.py for its options (--seed,
# --seconds, --rabbitmq-restart, --pg-restart: those two affect every run on the machine's broker or database).
chaos: install rabbitmq-plugins
	$(PY) bench/chaos.py

# Installs and starts PostgreSQL, RabbitMQ and Redis from the distribution's packages (Debian/Ubuntu, as root).
services:
	@if [ "$$(id -u)" != 0 ]; then echo "make services installs packages: run it as root"; exit 1; fi
	command -v pg_ctlcluster >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)
	command -v rabbitmq-server >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server)
	command -v redis-server >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server)
	@mkdir -p /etc/rabbitmq; grep -qs '^raft.wal_max_size_bytes' /etc/rabbitmq/rabbitmq.conf || \
	  (echo 'raft.wal_max_size_bytes = 64000000' >> /etc/rabbitmq/rabbitmq.conf && \
	   echo "RabbitMQ: quorum queues' write-ahead log capped at 64 MB, as deploy/stores does (from its next start)")
	bash tools/start-stores.sh

clean:
	rm -rf $(VENV) lib/postman var .pytest_cache .mypy_cache .ruff_cache
