# syncmail: the two commands of the README, and a few helpers.
#   make demo   a throwaway Dovecot, sample mail, `syncmail -a`, notmuch (see scripts/demo)
#   make test   the whole test suite (installs what is missing first)

PYTHON ?= python3

.PHONY: demo demo-stop test lint deps clean-demo

demo:
	$(PYTHON) scripts/demo

demo-stop:
	$(PYTHON) scripts/demo --stop

clean-demo:
	$(PYTHON) scripts/demo --clean

# Installs system packages (as root) and the project itself only when something is missing.
deps:
	@$(PYTHON) -c 'import syncmail, pytest, hypothesis, imapclient, pluggy, inotify_simple' 2>/dev/null \
		&& ( [ "$$(id -u)" != 0 ] || for c in dovecot mbsync notmuch pass; do \
			command -v $$c >/dev/null || exit 1; done ) \
		|| .ci/run --deps-only

# pytest's own exit code is kept: 5 (no tests collected) fails too.
test: deps
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check src tests plugins scripts/demo scripts/sample_mail.py scripts/hostile_report.py
	$(PYTHON) -m mypy
