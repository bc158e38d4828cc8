# Tollgate — `make help` lists the targets.
GO      ?= go
BIN     ?= bin/tollgate
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 20s

.PHONY: help build run test race unit fuzz bench lint e2e clean

help: ## list targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build the static binary into bin/tollgate
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tollgate

run: build ## build and run the proxy on the embedded default (./tollgate-data)
	./$(BIN) serve

test: ## run every test: vet, unit tests with -race (PostgreSQL and Redis included), e2e in a private network namespace
	./scripts/test-all

race: ## unit tests with the race detector (no e2e)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

unit: ## unit tests without the race detector
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

fuzz: ## run every fuzz target for FUZZTIME each
	./scripts/fuzz-all $(FUZZTIME)

bench: ## Go benchmarks (see bench/RESULTS.md for the load harness)
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v /e2e)

lint: ## go vet and gofmt
	$(GO) vet ./...
	$(GO) vet -tags tollgate_bench_noaudit ./cmd/tollgate # the benchmark-only build must keep compiling
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

e2e: build ## black-box tests of the binary inside a private network namespace (needs root for unshare)
	./scripts/e2e

clean: ## remove build output
	rm -rf bin
