.PHONY: start test lint format check bench

# Benchmarks (docs/benchmarks.md): need PostgreSQL (a scratch database whose name contains
# "bench"; created if missing) and Redis. They start nothing: they say what to start.
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/everything_bench
REDIS_URL ?= redis://127.0.0.1:6379/0
BENCH_SECONDS ?= 30

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

bench:
	DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) .venv/bin/python bench/transfers.py --seconds $(BENCH_SECONDS)
	DEBUG=1 DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) .venv/bin/python bench/accrual.py --accounts 1000000 --runs 3
