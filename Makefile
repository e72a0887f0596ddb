# Tributary. `make demo` runs the main job; `make test` runs the tests.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/tributary
PKGS := ./...

.PHONY: all build test test-short test-race bench demo lint fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/tributary

# Tests start their own PostgreSQL, MariaDB and NATS (internal/testenv).
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -count=1 -short -timeout 10m $(PKGS)

test-race:
	$(GO) test -count=1 -race -timeout 30m $(PKGS)

# A throwaway PostgreSQL, an embedded NATS, a generated dataset, changes
# flowing and a model learning. Ctrl-C tears it all down.
demo: build
	$(GO) run ./internal/demo --binary $(BIN)

# Go micro-benchmarks, then internal/bench: Tributary against pg_recvlogical
# and mariadb-binlog in one run, latency, peak RSS, batch preprocess.
# BENCH_FLAGS go to the harness (e.g. BENCH_FLAGS="--only pg --json");
# BENCH_GO=0 skips the micro-benchmarks, BENCH_BIG=0 the 10M-row batch run.
bench:
	./scripts/bench.sh $(BENCH_FLAGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz Fuzz -fuzztime 30s ./replicator/postgres/pgvalue/
	$(GO) test -run '^$$' -fuzz FuzzUnmarshal -fuzztime 30s ./change/

clean:
	rm -rf bin
