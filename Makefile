# voip-inventory: the front door. `make help` lists every target.
# Longer steps live in scripts/ so each target stays readable here.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

PYTHON ?= python3
VENV := .venv
JAR := server/target/voip-inventory.jar
COLLECTION := collections/ansible_collections/voip/infrastructure
REQUIREMENTS := plugin/requirements-dev.txt
# Where `make run` listens; for example LISTEN=127.0.0.1:50051.
LISTEN ?= unix:$(CURDIR)/.run/inventory.sock

# Extra options for `ansible-test sanity` (scripts/sanity runs it from the collection's
# root, without containers, on the venv's Python). `make sanity` and `make test` both
# use them; for one test only: make sanity SANITY_ARGS="--test pep8".
SANITY_ARGS ?=

# Generated code that `make check-generated` compares with what is committed.
GENERATED := server/src/generated/jooq ':(glob)$(COLLECTION)/plugins/module_utils/**/*_pb2*'

JAVA_SOURCES := pom.xml server/pom.xml $(shell find server/src proto db -type f 2>/dev/null)
SHELL_SCRIPTS := .ci/run scripts/lib.sh scripts/require scripts/install-grpcurl scripts/throwaway-pg \
	scripts/stack scripts/test-all scripts/generate scripts/sanity scripts/check-readme

.PHONY: help build venv grpcurl demo up down test sanity run lint fmt generate check-generated clean

help: ## list the targets
	@echo "voip-inventory: make TARGET, where TARGET is one of"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the server jar (server/target/voip-inventory.jar)
	@scripts/require java mvn
	@echo ">> building $(JAR)"
	mvn -B -q -ntp package -DskipTests

# The jar, rebuilt only when a source, the .proto or a migration changed.
$(JAR): $(JAVA_SOURCES)
	@$(MAKE) build

venv: $(VENV)/.stamp ## make .venv from the pinned plugin/requirements-dev.txt

$(VENV)/.stamp: $(REQUIREMENTS)
	@scripts/require python
	@echo ">> creating $(VENV) from $(REQUIREMENTS)"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r $(REQUIREMENTS)
	touch $@

$(REQUIREMENTS):
	@echo "$(REQUIREMENTS) is missing: the Python side's pinned requirements belong there" >&2
	@exit 1

grpcurl: ## install grpcurl with go install unless it is on PATH or in $(go env GOPATH)/bin
	@echo ">> looking for grpcurl"
	@path="$$(scripts/install-grpcurl)"; echo "   using $$path"

demo: $(JAR) venv grpcurl ## start PostgreSQL + server, show the sample inventory and a grpcurl call, clean up
	@scripts/require java
	scripts/stack demo

up: $(JAR) venv grpcurl ## start the same stack in the background (socket and inventory.yml in .run/)
	@scripts/require java
	scripts/stack up

down: ## stop what `make up` started and remove its files (also after a crash)
	scripts/stack down

test: $(JAR) venv grpcurl ## run every test (Java, pytest, sanity, benchmark smoke test, demo and README commands, generated code); PostgreSQL: throwaway or VOIP_TEST_PG_URL
	@echo ">> testing"
	scripts/test-all

sanity: venv ## run ansible-test sanity on the collection
	@echo ">> ansible-test sanity in $(COLLECTION)"
	scripts/sanity $(SANITY_ARGS)

run: $(JAR) ## run the server in the foreground with the INFRA_DB_* settings of your environment
	@scripts/require java
	@mkdir -p .run
	@echo ">> serving on $(LISTEN) (Ctrl-C stops it)"
	java -jar $(JAR) serve --listen $(LISTEN)

lint: venv ## check shell scripts (shellcheck) and the collection (ansible-test sanity)
	@scripts/require shellcheck
	@echo ">> shellcheck"
	shellcheck -x $(SHELL_SCRIPTS)
	@$(MAKE) sanity

fmt: ## format the shell scripts (shfmt)
	@scripts/require shfmt
	@echo ">> formatting shell scripts"
	shfmt -w -i 2 -ci -bn $(SHELL_SCRIPTS)

generate: venv ## regenerate the jOOQ classes (from the migrations) and the Python stubs (from the .proto)
	@echo ">> generating code"
	scripts/generate

check-generated: generate ## fail when the committed generated code differs from freshly generated code
	@echo ">> comparing generated code with the committed copy"
	@git diff --exit-code --stat -- $(GENERATED) \
		|| { echo "generated code is out of date: commit the output of 'make generate'" >&2; exit 1; }
	@untracked="$$(git ls-files --others --exclude-standard -- $(GENERATED))"; \
	if [[ -n "$$untracked" ]]; then \
		echo "generated files not committed:" >&2; echo "$$untracked" >&2; exit 1; fi

.PHONY: bench bench-quick

bench: $(JAR) venv ## measure the plugin against ansible-core's floor and a script at 1k, 10k, 100k hosts (bench/RESULTS.md)
	@scripts/require java
	@echo ">> benchmarking at 1,000, 10,000 and 100,000 hosts (about 90 minutes on two cores; see bench/README.md)"
	$(VENV)/bin/python bench/bench.py

bench-quick: $(JAR) venv ## the benchmark at 1,000 hosts, one run each: a smoke test (.run/bench/RESULTS-quick.md)
	@scripts/require java
	@echo ">> benchmarking at 1,000 hosts, one run each"
	$(VENV)/bin/python bench/bench.py --quick

clean: ## stop anything `make up` left running and remove build output and .run/ (keeps .venv)
	@echo ">> cleaning"
	scripts/stack down
	rm -rf server/target .run .pytest_cache $(COLLECTION)/tests/output
	find plugin $(COLLECTION) -name __pycache__ -type d -prune -exec rm -rf {} +
