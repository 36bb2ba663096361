# logistos-sync: build, test and run locally.
#
# `sam build` runs the build-<LogicalId> targets (BuildMethod: makefile) with
# ARTIFACTS_DIR set; each writes $(ARTIFACTS_DIR)/bootstrap for provided.al2023.

GO        ?= go
GOARCH    ?= arm64
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/logistos-sync/logistos-sync/shared/version.Version=$(VERSION)
GOBUILD    = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build -tags lambda.norpc -trimpath -ldflags='$(LDFLAGS)'
BIN       ?= bin
# ARGS are flags for the command a target runs: make redrive ARGS="-queue-url ... -dlq-url ..."
ARGS      ?=

# Lint tools, installed from the module proxy at pinned versions into
# $(TOOLS) by `make tools` (again only when missing, another version, or built
# by another Go).
TOOLS               := $(abspath $(BIN))/tools
STATICCHECK_VERSION := v0.8.2
STATICCHECK         := $(TOOLS)/staticcheck

.PHONY: build build-WebhookFunction build-ForwarderFunction build-ActivateFunction build-ReconcileFunction build-ConnectFunction \
        test test-unit test-local lint lint-template tools run demo activate reconcile redrive shops bench fuzz clean pages

## build: the five Lambda binaries into bin/<name>/bootstrap
build:
	$(MAKE) build-WebhookFunction   ARTIFACTS_DIR=$(BIN)/webhook
	$(MAKE) build-ForwarderFunction ARTIFACTS_DIR=$(BIN)/forwarder
	$(MAKE) build-ActivateFunction  ARTIFACTS_DIR=$(BIN)/activate
	$(MAKE) build-ReconcileFunction ARTIFACTS_DIR=$(BIN)/reconcile
	$(MAKE) build-ConnectFunction   ARTIFACTS_DIR=$(BIN)/connect

build-WebhookFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/webhook

build-ForwarderFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/forwarder

build-ActivateFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/activate

build-ReconcileFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/reconcile

build-ConnectFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/connect

## test: every test (unit, integration against embedded kumo, end-to-end under the Lambda RIE, template checks)
test: lint test-unit test-local

test-unit:
	$(GO) test -race -count=1 ./...

# -parallel 4: local/activation's parallel tests mostly wait (on a slow
# stand-in shop, on Lambda deadlines); more of them at once fill the idle
# cores instead of the clock.
test-local:
	cd local && $(GO) test -race -count=1 -parallel 4 -timeout 20m ./...

## lint: gofmt, go.mod/go.sum tidy, go vet and staticcheck in both modules, cfn-lint on the template
lint: lint-template tools
	@out=$$(gofmt -l . ); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' in the repository root"; exit 1; }
	@cd local && $(GO) mod tidy -diff || { echo "local/go.mod/go.sum are not tidy: run 'go mod tidy' in local/"; exit 1; }
	$(GO) vet ./...
	cd local && $(GO) vet ./...
	$(STATICCHECK) ./...
	cd local && $(STATICCHECK) ./...

## tools: install staticcheck $(STATICCHECK_VERSION) into $(TOOLS)
tools:
	@want="$$($(GO) env GOVERSION) $(STATICCHECK_VERSION)"; \
	have="$$($(GO) version -m '$(STATICCHECK)' 2>/dev/null | awk 'NR == 1 { v = $$2 } $$1 == "mod" && $$2 == "honnef.co/go/tools" { m = $$3 } END { print v " " m }')"; \
	if [ "$$have" != "$$want" ]; then \
		echo "GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)"; \
		GOBIN='$(TOOLS)' $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi

lint-template:
	@if command -v cfn-lint >/dev/null 2>&1; then cfn-lint template.yaml && echo "cfn-lint: template.yaml clean"; \
	elif [ -n "$$REQUIRE_CFN_LINT" ]; then echo "cfn-lint is required but not installed (pip install cfn-lint)"; exit 1; \
	else echo "SKIPPED cfn-lint: not installed (pip install cfn-lint); CI runs it"; fi

## run: the whole pipeline locally (embedded AWS, webhook on :3000, forwarder, Logistos capture)
##   as a hub with two stand-in shops to connect: HUB=true make run (settings: go -C local run ./cmd/run -h)
# Built, then exec'd (not `go run`, which exits 1 after Ctrl-C), so that
# Ctrl-C ends `make run` cleanly with status 0.
run:
	$(GO) -C local build -ldflags='-X github.com/logistos-sync/logistos-sync/shared/version.Version=$(VERSION)' -o $(abspath $(BIN))/local-run ./cmd/run
	exec $(abspath $(BIN))/local-run

## demo: send a correctly signed sample order to the local webhook: make demo ARGS=-bad-signature
demo:
	cd local && $(GO) run ./cmd/demo $(ARGS)

## activate: run activation against STORE_URL with the local stack of `make run`;
##   try it with a stand-in shop: make activate ARGS="-fake-shop 500 -dry-run"
activate:
	cd local && $(GO) run ./cmd/activate $(ARGS)

## reconcile: one reconcile sweep against STORE_URL (or -fake-shop) with the local stack of `make run`; prints its report
reconcile:
	cd local && $(GO) run ./cmd/reconcile $(ARGS)

## redrive: move DLQ messages back to the orders queue, of a stack in AWS or the local one:
##   make redrive ARGS="-queue-url <OrdersQueueUrl> -dlq-url <DeadLetterQueueUrl>"
redrive:
	$(GO) run ./cmd/redrive $(ARGS)

## shops: a hub's shops — list with health, show one, disconnect one (flags: the hub stack's outputs):
##   make shops ARGS="list"   make shops ARGS="show shop.example"   make shops ARGS="-yes disconnect shop.example"
shops:
	$(GO) run ./cmd/shops $(ARGS)

## pages: render connect's HTML pages in headless chromium (Debian: apt-get update && apt-get install -y chromium)
##   and save a phone-sized (390x844) screenshot of each: $(BIN)/pages/<page>.png beside <page>.html
PAGES_DIR := $(abspath $(BIN))/pages
CHROMIUM  ?= chromium
pages:
	@command -v $(CHROMIUM) >/dev/null || { echo "$(CHROMIUM) not found: apt-get update && apt-get install -y chromium"; exit 1; }
	cd local && $(GO) run ./cmd/pages -out $(PAGES_DIR)
	@for page in $(PAGES_DIR)/*.html; do \
		profile=$$(mktemp -d); \
		$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
			--disable-sync --no-first-run --user-data-dir=$$profile --window-size=390,844 \
			--screenshot=$${page%.html}.png file://$$page 2>/dev/null; status=$$?; \
		rm -rf $$profile; \
		[ $$status -eq 0 ] && [ -s $${page%.html}.png ] || { echo "chromium could not render $$page"; exit 1; }; \
		echo "screenshot $${page%.html}.png"; \
	done

## bench: benchmarks; figures go in docs/performance-and-cost.md
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./shared/...
	cd local && $(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m ./...

## fuzz: run each fuzz target for FUZZTIME (their seed corpora run in `make test`)
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzHandle -fuzztime $(FUZZTIME) ./shared/webhook
	$(GO) test -run '^$$' -fuzz FuzzParseOrder -fuzztime $(FUZZTIME) ./shared/logistos
	$(GO) test -run '^$$' -fuzz FuzzSplitArray -fuzztime $(FUZZTIME) ./shared/wooapi

clean:
	rm -rf $(BIN) .aws-sam
