# Thin targets over the go command. `make test` is the whole suite; CI runs
# it through .ci/run on a clean checkout.

GO        ?= go
GOROOT    := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
# Packages that build for js/wasm (the browser runs them).
WASM_PKGS := ./core/... ./storage ./storage/memory ./storage/storagetest ./transport/ws

.PHONY: all test test-go test-wasm test-js test-robust verify bench bench-go bench-wasm bench-cluster bench-smoke fuzz build cluster run wasm

all: test

## run: the browser demo (a simulated cluster in the page) at http://127.0.0.1:8080.
run: build
	./bin/raftnode demo --listen 127.0.0.1:8080

## wasm: the simulator for the browser: ui/wasm/core.wasm (+ .gz, .br) and wasm_exec.js.
wasm: ui/wasm/core.wasm

WASM_SRC := $(shell find core storage wasm -name '*.go' -not -name '*_test.go') go.mod go.sum
ui/wasm/core.wasm: $(WASM_SRC)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o $@ ./wasm
	cp $(GOROOT)/lib/wasm/wasm_exec.js ui/wasm/wasm_exec.js
	$(GO) run ./wasm/precompress $@

## build: the node binary, bin/raftnode, with the UI and the simulator in it.
build: wasm
	$(GO) build -o bin/raftnode ./cmd/node

## cluster: three local members on 127.0.0.1:7001-7003; Ctrl-C stops them.
cluster: build
	./cmd/node/cluster.sh

## test: every test: native (simulation seeds, real processes, the browser
## in Chromium), under wasm in Node.js, and the UI's JS modules.
test: wasm test-go test-wasm test-js

test-go:
	$(GO) test -timeout 30m ./...

## test-robust: the extended robustness tier (docs/reliability.md): every
## fault cell of cmd/node's TestRobustness ROBUST_RUNS times (default 20)
## with a summary table (also in $$RAFTLAB_ROBUST_OUT/summary.md, default
## $$TMPDIR/raftlab-robust), 100 kill -9 cycles under write load, damaged
## stores and silent event consumers; then every fuzz target for 300 s.
## `make test` runs the quick tier (each cell once, 20 kill cycles).
ROBUST_RUNS ?= 20
ROBUST_TESTS := ^(TestRobustness|TestKillRestartCycles|TestCorruptedStoreOnMinority|TestNeverReadingEventConsumers)$$
test-robust:
	RAFTLAB_ROBUST_RUNS=$(ROBUST_RUNS) RAFTLAB_KILL_CYCLES=100 $(GO) test -count=1 -timeout 4h -v -run '$(ROBUST_TESTS)' ./cmd/node
	$(MAKE) fuzz FUZZTIME=300s

## test-js: the UI's pure modules with Node's test runner.
test-js:
	node --test ui/test/

## test-wasm: the pure packages under js/wasm in Node.js.
test-wasm:
	GOOS=js GOARCH=wasm $(GO) test -timeout 30m -short -exec $(WASM_EXEC) $(WASM_PKGS)

## verify: formatting, vet (native and wasm), a tidy go.mod.
verify:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet $(WASM_PKGS)
	GOOS=js GOARCH=wasm $(GO) build $(WASM_PKGS)
	$(GO) mod tidy -diff
	cd bench && $(GO) vet ./... && $(GO) mod tidy -diff

## bench: the benchmarks, figures printed (never asserted).
bench: bench-go bench-wasm

bench-go:
	$(GO) test -run '^$$' -bench 'Save|Sync|Entries' -benchtime 2000x ./storage/badger
	$(GO) test -run '^$$' -bench Compact -benchtime 10x ./storage/badger
	$(GO) test -run '^$$' -bench . -count 3 ./transport/ws
	$(GO) test -run '^$$' -bench EventJSON ./core
	$(GO) test -run '^$$' -bench SimTicks -benchtime 3000x ./core/sim
	$(GO) test -run '^$$' -bench MemoryPerNode -benchtime 3x ./core/sim
	$(GO) test -run '^$$' -bench FrameCall -benchtime 2000x ./wasm
	$(GO) test -run '^$$' -bench Cluster -benchtime 2s ./cmd/node

bench-wasm:
	GOOS=js GOARCH=wasm $(GO) test -run '^$$' -bench SimTicks -benchtime 3000x -exec $(WASM_EXEC) ./core/sim
	GOOS=js GOARCH=wasm $(GO) test -run '^$$' -bench FrameCall -benchtime 2000x -exec $(WASM_EXEC) ./wasm

## bench-cluster: Raftlab against etcd on this machine, side by side (bench/, its own module):
## 3 alternating rounds of fresh 3-member clusters, 1 and 64 clients; a few minutes.
## Figures printed, never asserted. Extra flags: make bench-cluster BENCHFLAGS='-rounds 5'.
BENCH_TOOLS := cd bench && $(GO) build -o ../bin/ ./cmd/etcdmember ./cmd/compare
bench-cluster: build
	$(BENCH_TOOLS)
	./bin/compare $(BENCHFLAGS)

## bench-smoke: bench's unit tests and one short round of bench-cluster (about 10 s), for CI;
## fails only when a cluster does not start or a run has no successful write.
bench-smoke: build
	cd bench && $(GO) test -short ./...
	$(BENCH_TOOLS)
	./bin/compare -smoke $(BENCHFLAGS)

## fuzz: each fuzz target for FUZZTIME (default 30s). .ci/fuzz-one tells a
## finding from Go 1.26's end-of-fuzztime race (golang/go#75804).
FUZZTIME ?= 30s
FUZZ_TARGETS := ./core:FuzzDecodeCommand ./core:FuzzDecodeKVSnapshot ./core:FuzzDecodeConfURLs \
	./transport/ws:FuzzDecodeFrame ./transport/ws:FuzzHandshake \
	./cmd/node:FuzzKVHandler ./cmd/node:FuzzAdminHandlers ./storage:FuzzOpen
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		GO=$(GO) ./.ci/fuzz-one $${t%%:*} $${t#*:} $(FUZZTIME); \
	done
