# profileflow — two commands: `make run` (whole system locally) and `make test`.
SHELL := /bin/bash
GO ?= go
APP := build/app
GOTESTFLAGS ?=

.PHONY: all deps build package web dist run test test-faults load unit lint archcheck bench fuzz soak clean workflow-archive

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

# The bench tag adds the measurements `make bench` runs (TestPeakMemory, TestCosmosRoundTrips);
# vet checks them too.
lint:
	@unformatted=$$(gofmt -l handler dev); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags bench ./...
	$(GO) vet -tags soak ./handler/e2e
	$(GO) vet -tags faults ./...
	$(GO) vet -tags load ./...

# Unit, integration (real stand-ins started by the tests) and end-to-end
# tests (development host + handler), the web UI's unit tests (node --test)
# and its browser tests (dev/webui: Chromium through playwright-core). Tests
# never skip: a stand-in or browser that cannot start fails the run.
test: deps package lint
	node --test web/test/unit/
	$(GO) test -count=1 -timeout 25m $(GOTESTFLAGS) ./...
	$(MAKE) --no-print-directory test-faults

# The fault-injection suite (tag faults; `make test` runs it last, about a
# minute, since it stops and kills parts of a system of its own): a local
# system of its own, requests through abandoned uploads, a clamd stall, a
# 10 s Cosmos DB outage, dropped Service Bus connections, duplicate
# deliveries and a killed handler; it prints the counts ("fault suite: …")
# and fails if a request is lost or a change applied twice.
test-faults: deps package
	$(GO) test -count=1 -timeout 15m -tags faults -run '^TestFaultSuite$$' -v ./handler/e2e 2>&1 | grep -v '^=== ' ; exit $${PIPESTATUS[0]}

# The load test (tag load; not part of `make test`): PATCHes at fixed
# rates, doubling from 5/s, 20 % direct and 80 % with a document for
# approval, against a local system of its own; it prints the highest rate
# sustained with no error and every request at rest ("load: sustained …").
load: deps package
	$(GO) test -count=1 -timeout 30m -tags load -run '^TestLoad$$' -v ./handler/e2e

unit:
	$(GO) test -count=1 -short ./handler/...

# The benchmark table (not part of `make test`, which only compiles the
# benchmarks): one row per figure, each a ratio against a baseline measured
# side by side in the same run, with its target (dev/cmd/benchtable lists
# the rows and the `go test` runs behind them). The whole output goes to
# build/bench.log, with TestCosmosOperationsPerRequest's table of Cosmos DB
# operations per request (the figures behind the RU/s of docs/deploy.md).
# About 8 minutes on 2 idle cores.
bench: deps package
	@mkdir -p build
	$(GO) run ./dev/cmd/benchtable -log build/bench.log

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


# Fuzzing: every Fuzz target of handler/ and dev/ (the parsers of untrusted
# input: invocation payloads, PATCH bodies, file names, BPMN and gateway
# conditions, the scan's checks, tokens, clamd replies…) runs for FUZZTIME
# each, one after another, with new interesting inputs minimized for at most
# FUZZMINIMIZE (not part of `make test`, which runs the seed corpora in
# testdata/fuzz and the f.Add seeds). A failing input is written to the
# package's testdata/fuzz and stops the run.
FUZZTIME ?= 20s
FUZZMINIMIZE ?= 5s
fuzz:
	@set -e; n=0; for pkg in $$($(GO) list ./handler/... ./dev/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; n=$$((n+1)); \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
	  done; done; echo "make fuzz: $$n targets, $(FUZZTIME) each, no failure"

# Keeps every workflow definition in workflows/versions/ under its content
# version, so requests started on it finish on it after the file changes.
workflow-archive:
	@mkdir -p workflows/versions; for f in workflows/*.bpmn; do \
	  h=$$(sha256sum "$$f" | cut -c1-32); cp -n "$$f" "workflows/versions/sha256-$$h.bpmn"; done

clean:
	rm -rf build
