.PHONY: start test lint format check bench bank

# Benchmarks (docs/benchmarks.md): need PostgreSQL and Redis; they start nothing (they say what
# to start). Scratch databases (names contain "bench", created and migrated if missing):
# DATABASE_URL for transfers (pgbench, service, HTTP) and messages, $(DATABASE_URL)_pages for the
# pages (re-seeded every run) and $(DATABASE_URL)_accrual for the accrual (its 1M accounts are
# seeded once and reused). The defaults are budgeted to finish within 15 minutes on 2 CPUs (roughly:
# transfers 5–6, messages 2.5, pages 2–3, accrual 1.5; the first run also migrates and seeds).
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/everything_bench
PAGES_DATABASE_URL ?= $(DATABASE_URL)_pages
ACCRUAL_DATABASE_URL ?= $(DATABASE_URL)_accrual
REDIS_URL ?= redis://127.0.0.1:6379/0
BENCH_SECONDS ?= 30
BENCH_PAGE_REQUESTS ?= 200
BENCH_ACCRUAL_ACCOUNTS ?= 1000000
BENCH_ACCRUAL_RUNS ?= 1# each run: two days, one per path (after one untimed day); 2 alternates the order
BENCH_ENV = REDIS_URL=$(REDIS_URL) PYTHONUNBUFFERED=1
BENCH_STEPS ?= transfers messages pages accrual
BENCH_ARGS ?=# extra options for every script, e.g. --no-docs for a trial run
BENCH_TRANSFERS_ARGS ?=# and for one script each (`.venv/bin/python bench/<name>.py --help`)
BENCH_MESSAGES_ARGS ?=
BENCH_PAGES_ARGS ?=
BENCH_ACCRUAL_ARGS ?=

start:
	./bin/start

test:
	./bin/test

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

check:
	DEBUG=1 .venv/bin/python manage.py ledger_check

# Runs every step even when one fails, prints each step's elapsed time, fails at the end if any did.
bench: SHELL := /bin/bash
bench:
	@DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) .venv/bin/python -c \
		'import sys; sys.path.insert(0, "bench"); import _common; _common.require_services(postgres=True, redis=True)'
	@start=$$SECONDS; failed=(); summary=(); \
	for step in $(BENCH_STEPS); do \
		case $$step in \
			transfers) cmd="DATABASE_URL=$(DATABASE_URL) $(BENCH_ENV) .venv/bin/python bench/transfers.py --seconds $(BENCH_SECONDS) $(BENCH_ARGS) $(BENCH_TRANSFERS_ARGS)";; \
			messages) cmd="DATABASE_URL=$(DATABASE_URL) $(BENCH_ENV) .venv/bin/python bench/messages.py --seconds $(BENCH_SECONDS) $(BENCH_ARGS) $(BENCH_MESSAGES_ARGS)";; \
			pages) cmd="DATABASE_URL=$(PAGES_DATABASE_URL) $(BENCH_ENV) .venv/bin/python bench/pages.py --requests $(BENCH_PAGE_REQUESTS) $(BENCH_ARGS) $(BENCH_PAGES_ARGS)";; \
			accrual) cmd="DATABASE_URL=$(ACCRUAL_DATABASE_URL) $(BENCH_ENV) .venv/bin/python bench/accrual.py --accounts $(BENCH_ACCRUAL_ACCOUNTS) --runs $(BENCH_ACCRUAL_RUNS) $(BENCH_ARGS) $(BENCH_ACCRUAL_ARGS)";; \
			*) echo "bench: unknown step $$step (transfers, messages, pages, accrual)"; exit 2;; \
		esac; \
		echo; echo "=== bench $$step: $$cmd"; t0=$$SECONDS; \
		if env $$cmd; then status=ok; else status="FAILED ($$?)"; failed+=($$step); fi; \
		summary+=("$$(printf '%-10s %5d s  %s' $$step $$((SECONDS - t0)) "$$status")"); \
		echo "=== bench $$step: $$((SECONDS - t0)) s, $$status"; \
	done; \
	echo; echo "=== bench: elapsed per step"; printf '  %s\n' "$${summary[@]}"; \
	echo "=== bench: total $$((SECONDS - start)) s"; \
	[ $${#failed[@]} -eq 0 ] || { echo "=== bench: failed: $${failed[*]}"; exit 1; }

# The bank workload (issue 10; docs/benchmarks.md "Bank workload"): a Jepsen-style history check of
# payments, returns and requests through the API, at full size. Writes to DATABASE_URL (a scratch
# database: the seeded users are new each run). Options: BANK_ARGS, e.g. BANK_ARGS=--no-docs.
BANK_ARGS ?=
bank:
	DATABASE_URL=$(DATABASE_URL) $(BENCH_ENV) .venv/bin/python bench/bank.py --users 64 --clients 32 --seconds 60 $(BANK_ARGS)

# Fault drill (docs/operations.md "Fault drill", bench/faults.py --help): SIGKILLs a uvicorn worker
# and the Celery worker mid-accrual and restarts PostgreSQL (as root with pg_ctlcluster) while the
# bank workload runs; fails unless nothing was lost, doubled or left half-done. Scratch database.
FAULTS_DATABASE_URL ?= $(DATABASE_URL)_faults
FAULTS_ARGS ?=# e.g. --accounts 20000 --seconds 20 --no-docs, or --restart-postgres-cmd "..."
.PHONY: faults
faults:
	DATABASE_URL=$(FAULTS_DATABASE_URL) $(BENCH_ENV) .venv/bin/python bench/faults.py $(FAULTS_ARGS)

# API fuzzing (issue 10; docs/api.md "Fuzzing"): schemathesis against /api/schema/ on a live site of
# its own (SQLite, seed_demo, signed in as dave), FUZZ_EXAMPLES generated requests per operation
# (the suite runs 5); no 5xx and every answer as documented. FUZZ_SEED picks another fixed seed.
FUZZ_EXAMPLES ?= 100
FUZZ_SEED ?= 20261121
.PHONY: fuzz
fuzz:
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) .venv/bin/python -m pytest -p no:cacheprovider -q core/tests/test_api_fuzz.py
