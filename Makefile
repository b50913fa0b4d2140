# kdlaunch: `make demo` runs the main job against the built-in fake kd;
# `make test` runs every check CI runs (except the Wine suite: make test-windows).
SHELL := /bin/bash
GO ?= go
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME ?= 100000x
DEMO := $(CURDIR)/demo

.PHONY: all build test lint unit race windows-build fuzz bench demo cross test-windows clean

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kdlaunch .
	$(GO) build -trimpath -o bin/fakekd ./cmd/fakekd
	$(GO) build -trimpath -o bin/genlog ./cmd/genlog

# Everything CI checks: formatting, vet, staticcheck, the Windows builds, and
# every test with the race detector (integration tests build their own
# kdlaunch in a temporary folder and run the kd stand-ins from the test
# binary; bin/ is not touched by them).
test: build lint windows-build race

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	GOOS=windows GOARCH=arm64 $(GO) vet ./...
	$(STATICCHECK) ./...
	GOOS=windows GOARCH=amd64 $(STATICCHECK) ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

windows-build:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null . ./cmd/...
	GOOS=windows GOARCH=arm64 $(GO) build -o /dev/null . ./cmd/...

race:
	$(GO) test -race -count=1 -timeout 10m ./...

unit:
	$(GO) test -count=1 -short ./...

# Short runs of every fuzz target, counted in executions (FUZZTIME=10m for a
# long one); counts keep a busy CI machine from flaking on a wall-clock limit.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

# Benchmarks as ratios to a baseline measured in the same run.
bench: build
	bash scripts/bench-report.sh
	bash scripts/bench-pump.sh

# The main job against the fake kd: start kd, wait for the target, break in,
# arm the seed's breakpoint, supervise for a few seconds, stop safely, then
# report who allocates the tag.
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	bin/kdlaunch run --config config.demo.toml --kd bin/fakekd \
	  --log $(DEMO)/debug.log --transcript $(DEMO)/transcript.log \
	  --tag Ddk --max-hits 200 --duration 20s
	bin/kdlaunch report --format folded -o $(DEMO)/stacks.folded $(DEMO)/debug.log
	bin/kdlaunch report --format pprof -o $(DEMO)/stacks.pb.gz $(DEMO)/debug.log
	@echo "demo: log, transcript, folded stacks and pprof profile in $(DEMO)/ (go tool pprof -http=: $(DEMO)/stacks.pb.gz)"
	@echo
	bin/kdlaunch report --top 5 $(DEMO)/debug.log

cross:
	bash scripts/cross.sh

test-windows:
	bash scripts/test-windows.sh

clean:
	rm -rf bin dist demo
