# ---------------------------------------------------------------------------
# Lambda builds, as sam build calls them.
#
# template.yaml gives every function BuildMethod: makefile, so sam build runs
# `make build-<LogicalId>` with ARTIFACTS_DIR set and packages whatever lands
# there. Each target builds ./functions/<name> as a static binary named
# bootstrap (what provided.al2023 executes). GOARCH must match the template's
# Architectures (arm64); tests override it with the host's architecture to
# run the binary locally. Without ARTIFACTS_DIR, a target builds into
# build/<LogicalId>/, and `make build-functions` builds all of them there.
# The targets are generated into functions.mk (make generate), one per
# function of internal/api/routes.go and internal/lambdafn.
# ---------------------------------------------------------------------------
GOARCH ?= arm64
LAMBDA_GOFLAGS := -trimpath -tags lambda.norpc -ldflags='-s -w'

# Next to this Makefile, wherever make runs it from (sam build may run it
# from a copy of the source tree with --makefile).
include $(dir $(lastword $(MAKEFILE_LIST)))functions.mk

# ---------------------------------------------------------------------------
# Development targets. `make` alone prints this list (help is the default
# goal, so that a bare `make` builds or starts nothing).
#
#   make generate  write what follows from internal/api/routes.go and
#                internal/lambdafn: template.yaml's route functions,
#                functions.mk, functions/*/main.go, docs/openapi.json,
#                missing events/*.json
#   make tools   install the pinned aws-lambda-rie, staticcheck and actionlint
#                into .bin/
#   make run     serve the whole API on http://127.0.0.1:PORT (PORT=3000 by
#                default), over a moto_server it starts itself unless
#                DYNAMODB_ENDPOINT is set; Ctrl-C, kill or closing the
#                terminal (SIGHUP) stops both; a port in use fails at once
#   make tick AT=2026-12-01T10:00:00Z  one tick of the scheduler of a
#                running `make run` at that time (fires what is due then)
#   make test    tools, lint, then every test (what CI runs: .ci/run)
#   make test-short  the fast tier (under 3 min; aim 1): go test -short, still
#                over moto, without the lint, the function binaries under
#                aws-lambda-rie and the large seeded tables
#   make demo-resources  create a DynamoDB table "orders", an EBS volume
#                and an EC2 instance, tagged as the walk-through project's, on
#                the endpoint of a running `make run`; prints the volume's
#                and the instance's ids
#   make smoke URL=<base> TOKEN=<token>  end-to-end smoke test of a running
#                API on the No-Op Provider (scripts/smoke.sh): the deployed
#                stack's ApiUrl and a JWT, or http://127.0.0.1:3000 and the
#                development token under `make run`
#   make demo-items TABLE=<name>  print a table's items on that endpoint
#                (the walk-through's restored table)
#   make lint    gofmt check, go vet, staticcheck, cfn-lint (template.yaml and
#                deploy/github-oidc-role.yaml), actionlint (.github/workflows)
#   make bench   the benchmarks
#   make clean   remove build/, .aws-sam/ and .bin/
#
# Tests need moto_server (pip install 'moto[server]'); the lint and the
# template's transform test need cfn-lint and the SAM translator it brings
# (pip install cfn-lint): Python tools, not Go modules, so they are
# checked for, not installed. The Go tools are pinned here and installed by
# `go install` into .bin/, not added to go.mod.
# ---------------------------------------------------------------------------
.DEFAULT_GOAL := help

BIN := $(CURDIR)/.bin
AWS_LAMBDA_RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION := v0.8.2
ACTIONLINT_VERSION := v1.7.12
PORT ?= 3000
GO_TEST_TIMEOUT ?= 20m
# Test packages at once: most of a package's time is spent waiting on its
# moto_server and on functions under aws-lambda-rie, so 4 on 2 cores
# finish sooner than go test's default of one per core (measured: 301 s
# against 360 s for go test ./...).
GO_TEST_PARALLEL ?= 4

.PHONY: help
help:
	@sed -n '/^# Development targets/,/^# ---/s/^#   //p' $(firstword $(MAKEFILE_LIST))

# go-tool,<binary>,<package>,<version>: `make tools` installs the binary into
# .bin/ when it is missing or was installed at another version (the stamp
# file .bin/.<binary>-<version> records the version installed).
.PHONY: tools
define go-tool
.PHONY: tool-$(1)
tools: tool-$(1)
tool-$(1):
	@if [ ! -x $(BIN)/$(1) ] || [ ! -f $(BIN)/.$(1)-$(3) ]; then \
		echo "installing $(1) $(3) into .bin/"; \
		rm -f $(BIN)/.$(1)-*; \
		mkdir -p $(BIN) && GOBIN=$(BIN) go install $(2)@$(3) && touch $(BIN)/.$(1)-$(3); \
	fi
endef
$(eval $(call go-tool,aws-lambda-rie,github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie,$(AWS_LAMBDA_RIE_VERSION)))
$(eval $(call go-tool,staticcheck,honnef.co/go/tools/cmd/staticcheck,$(STATICCHECK_VERSION)))
$(eval $(call go-tool,actionlint,github.com/rhysd/actionlint/cmd/actionlint,$(ACTIONLINT_VERSION)))

.PHONY: require-moto require-cfn-lint
require-moto:
	@command -v moto_server >/dev/null 2>&1 || { \
		echo "ERROR: moto_server is not on PATH. The tests run DynamoDB on it: pip install 'moto[server]'" >&2; exit 1; }
require-cfn-lint:
	@command -v cfn-lint >/dev/null 2>&1 || { \
		echo "ERROR: cfn-lint is not on PATH. The lint checks template.yaml with it: pip install cfn-lint" >&2; exit 1; }

.PHONY: generate
generate:
	go run ./internal/local/cmd/karbor-gen

.PHONY: run
run:
	go build -o $(BIN)/karbor-local ./internal/local/cmd/karbor-local
	PORT=$(PORT) ENDPOINT_FILE=$(ENDPOINT_FILE) exec $(BIN)/karbor-local

# One tick of the scheduler of `make run` at time AT (RFC 3339, e.g.
# 2026-12-01T10:00:00Z; now when empty): fires what is due then.
.PHONY: tick
tick:
	@curl -fsS -X POST 'http://127.0.0.1:$(PORT)/_local/scheduler/tick$(if $(AT),?at=$(AT))' && echo

# The endpoint `make run` serves DynamoDB and EC2 on, while it runs.
ENDPOINT_FILE := $(BIN)/local-endpoint

.PHONY: demo-resources
demo-resources:
	@ENDPOINT_FILE=$(ENDPOINT_FILE) go run ./internal/local/cmd/karbor-demo-resources

.PHONY: demo-items
demo-items:
	@test -n "$(TABLE)" || { echo "usage: make demo-items TABLE=<table name>" >&2; exit 2; }
	@ENDPOINT_FILE=$(ENDPOINT_FILE) go run ./internal/local/cmd/karbor-demo-resources items '$(TABLE)'

.PHONY: smoke
smoke:
	@test -n "$(URL)" && test -n "$(TOKEN)" || { echo "usage: make smoke URL=<base URL> TOKEN=<token>" >&2; exit 2; }
	@bash $(dir $(lastword $(MAKEFILE_LIST)))scripts/smoke.sh '$(URL)' '$(TOKEN)'

.PHONY: lint
lint: tools require-cfn-lint
	@echo "gofmt -l ."; unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then \
		echo "ERROR: these files are not gofmt-formatted (run gofmt -w on them):" >&2; echo "$$unformatted" >&2; exit 1; fi
	go vet ./...
	$(BIN)/staticcheck ./...
	cfn-lint template.yaml deploy/github-oidc-role.yaml
	$(BIN)/actionlint

.PHONY: test
test: require-moto lint
	go test -count=1 -p $(GO_TEST_PARALLEL) -timeout $(GO_TEST_TIMEOUT) ./...

# The fast tier: tests that are slow by nature (building functions and
# running them under aws-lambda-rie, seeding thousands of items) skip
# themselves under -short; the rest run as in `make test`.
.PHONY: test-short
test-short: require-moto
	go test -short -count=1 -p $(GO_TEST_PARALLEL) -timeout 5m ./...

.PHONY: bench
bench: tools require-moto
	go test -run '^$$' -bench . -benchmem -timeout $(GO_TEST_TIMEOUT) ./...

.PHONY: clean
clean:
	rm -rf build .aws-sam .bin
