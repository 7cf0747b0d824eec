# Both entry points bootstrap .venv themselves: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-scale bench-events bench-explain bench-whatif fuzz lab conformance conformance-update clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/defib demo $(DEMO_ARGS)

test: $(STAMP)
	$(VENV)/bin/pytest -q -ra

conformance: $(STAMP)
	$(VENV)/bin/pytest -q -s tests/conformance

# Rewrite the per-case lists of passing scheduler cases and raise the floors to this run's rates.
conformance-update: $(STAMP)
	DEFIB_CONFORMANCE_UPDATE=1 $(VENV)/bin/pytest -q -s tests/conformance/test_scheduler_cases.py

lint: $(STAMP)
	$(VENV)/bin/ruff check defib tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(VENV)/bin/python -m bench.scheduler

# 300 resources on a local 3-node cluster: configure -> all running, power-cut failover.
bench-scale: $(STAMP)
	$(VENV)/bin/python -m bench.scale $(SCALE_ARGS)

# The event-sequence differential against crm_simulate, 200 sequences.
bench-events: $(STAMP)
	$(VENV)/bin/python -m bench.event_sequences --seeds 200

# defib explain on every resource of the 603 Pacemaker cases: no error, and what a trace costs.
bench-explain: $(STAMP)
	$(VENV)/bin/python -m bench.explain_cases

# What-if options (node fail, tickets, injected and failing operations ...) vs crm_simulate.
bench-whatif: $(STAMP)
	$(VENV)/bin/python -m bench.whatif

# 10,000 mutated CIBs through parse, schedule, graph, simulate, and 10,000 mutated configure
# scripts on a CIB file (docs/benchmarks.md, docs/robustness.md).
fuzz: $(STAMP)
	$(VENV)/bin/python -m bench.cib_fuzz --inputs 10000
	$(VENV)/bin/python -m bench.configure_fuzz --scripts 10000

# The fault lab (root): every CTS scenario, 20 seeded rounds, an audit after each (docs/lab.md).
LAB_ARGS ?= --rounds 20
lab: $(STAMP)
	$(VENV)/bin/python -m defib.lab $(LAB_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
