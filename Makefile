.PHONY: start test lint format check

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
