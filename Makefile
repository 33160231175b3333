# profileflow — two commands: `make run` (whole system locally) and `make test`.
SHELL := /bin/bash
GO ?= go
APP := build/app
GOTESTFLAGS ?=
FUZZTIME ?= 30s

.PHONY: all deps build package web dist run test unit lint archcheck bench fuzz soak clean workflow-archive

all: package

# npm dependencies of the local stack (Azurite, Cosmos DB server, AMQP peer,
# browser driver), pinned in package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build:
	$(GO) build -o build/handler ./handler

# build/app = host.json + handler binary + every function folder: the folder
# `func start --script-root build/app` runs and deployment publishes.
package:
	$(GO) run ./dev/cmd/package -o $(APP)

# The web UI (web/, bundled by esbuild) into build/web, which `make run`
# serves at http://127.0.0.1:$(PORT)/. For Azure's static website:
# node web/build.mjs --out build/dist/web --config <config with msal and csp>.
web: deps
	node web/build.mjs --out build/web

# The Azure artifact: linux/amd64 handler, zipped for zip deploy.
dist:
	$(GO) run ./dev/cmd/package -o build/dist/app -goarch amd64 -zip build/dist/profileflow.zip

# Ports of `make run`, all on 127.0.0.1; choose others without editing
# files, e.g. `make run PORT=8071 AZURITE_PORT=11000`.
PORT ?= 7071
AZURITE_PORT ?= 10000
COSMOS_PORT ?= 8081
TWILIO_PORT ?= 7073
CLAMD_PORT ?= 3310
SERVICEBUS_PORT ?= 5672

# Starts Azurite, the Cosmos DB stand-in, clamd, the Service Bus peer, the
# fake Twilio API and the development host with the handler on
# http://127.0.0.1:$(PORT); Ctrl-C stops all. A taken port ends it at once
# with one line naming it.
run: deps package web
	$(GO) build -o build/localrun ./dev/cmd/localrun
	exec build/localrun -app $(APP) -port $(PORT) -azurite-port $(AZURITE_PORT) \
	  -cosmos-port $(COSMOS_PORT) -twilio-port $(TWILIO_PORT) -clamd-port $(CLAMD_PORT) \
	  -servicebus-port $(SERVICEBUS_PORT)

# The bench tag adds the measurements `make bench` runs (TestPeakMemory);
# vet checks them too.
lint:
	@unformatted=$$(gofmt -l handler dev); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags bench ./...
	$(GO) vet -tags soak ./handler/e2e

# Unit, integration (real stand-ins started by the tests) and end-to-end
# tests (development host + handler), the web UI's unit tests (node --test)
# and its browser tests (dev/webui: Chromium through playwright-core). Tests
# never skip: a stand-in or browser that cannot start fails the run.
test: deps package lint
	node --test web/test/unit/
	$(GO) test -count=1 -timeout 25m $(GOTESTFLAGS) ./...

unit:
	$(GO) test -count=1 -short ./handler/...

# Benchmarks (not part of `make test`, which only compiles them), then the
# scan's figures: the pipeline without and with clamd against clamd alone
# on the same 25 MiB PDF and PNG (3 iterations of all three), the
# handler's peak memory while one 25 MiB document is scanned through the
# development host, and the Cosmos DB operations one request costs (the
# figures behind the RU/s of docs/deploy.md).
bench: deps package
	$(GO) test -run '^$$' -bench . -skip '^BenchmarkPipelineClamd$$' -benchmem ./handler/... ./dev/...
	$(GO) test -run '^$$' -bench '^BenchmarkPipelineClamd$$' -benchtime 3x ./handler/scan
	$(GO) test -tags bench -run '^(TestPeakMemory|TestCosmosOperationsPerRequest)$$' -count=1 -v ./handler/e2e

# The soak (not part of `make test`): SOAK_REQUESTS profile changes (20 %
# description-only, 80 % with a document and one or two approvals decided
# by scripted approvers, some rejected or sent back) through the whole
# local stack, with the handler killed and restarted every ~SOAK_KILL_EVERY
# seconds and duplicate queue messages injected; then it checks every
# request and prints the report. The 1,000-request run takes about
# 5 minutes on 2 cores (bounded by -timeout 60m); `make soak
# SOAK_REQUESTS=100` is the short variant (about 1 minute).
SOAK_REQUESTS ?= 1000
SOAK_INFLIGHT ?= 12
SOAK_KILL_EVERY ?= 15
soak: deps package
	SOAK_REQUESTS=$(SOAK_REQUESTS) SOAK_INFLIGHT=$(SOAK_INFLIGHT) SOAK_KILL_EVERY=$(SOAK_KILL_EVERY) \
	  $(GO) test -tags soak -run '^TestSoak$$' -count=1 -timeout 60m -v ./handler/e2e

# Long fuzz runs, FUZZTIME each (not part of `make test`; the seed corpora run there).
fuzz:
	@set -e; for pkg in $$($(GO) list ./handler/... ./dev/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

# Keeps every workflow definition in workflows/versions/ under its content
# version, so requests started on it finish on it after the file changes.
workflow-archive:
	@mkdir -p workflows/versions; for f in workflows/*.bpmn; do \
	  h=$$(sha256sum "$$f" | cut -c1-32); cp -n "$$f" "workflows/versions/sha256-$$h.bpmn"; done

clean:
	rm -rf build
