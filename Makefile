# kdlaunch: `make demo` runs the main job against the built-in fake kd;
# `make test` runs every check CI runs (except the Wine suite: make test-windows).
SHELL := /bin/bash
GO ?= go
# go.mod's toolchain line names the Go release with the standard library's
# security fixes (govulncheck finds html/template and net/http issues in
# 1.26.8); auto lets the go command fetch it through the module proxy where
# the machine's Go is older, and keeps a newer one.
export GOTOOLCHAIN := auto
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# staticcheck and govulncheck are tool directives in go.mod: `go tool` builds
# them from the module cache, so lint installs nothing and runs offline.
# staticcheck is built for this host once (GOOS=windows on `go tool` would
# build a Windows binary), then run with GOOS/GOARCH set for each target.
STATICCHECK := bin/tools/staticcheck
GOVULNCHECK := $(GO) tool govulncheck
# govulncheck's database host is not always reachable (CI has no route to
# it), but the Go module proxy serves the same OSV records as the module
# golang.org/x/vulndb: the database is built from it once, in govulncheck's
# v1 layout, into a cache folder, and read from there with -db file://.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kdlaunch/vulndb-$(VULNDB_VERSION)
FUZZTIME ?= 100000x
DEMO := $(CURDIR)/demo
# The page names its logs: relative, so a shared page does not show the
# folder it was made in.
DEMO_REL = $(patsubst $(CURDIR)/%,%,$(DEMO))

.PHONY: all build test lint tidy vuln unit race windows-build fuzz bench demo cross test-windows screenshot clean

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kdlaunch .
	$(GO) build -trimpath -o bin/fakekd ./cmd/fakekd
	$(GO) build -trimpath -o bin/genlog ./cmd/genlog

# Everything CI checks: go.mod tidy, formatting, vet, staticcheck,
# govulncheck, the Windows builds, and every test with the race detector
# (integration tests build their own kdlaunch in a temporary folder and
# run the kd stand-ins from the test binary; bin/ is not touched).
test: build tidy lint vuln windows-build race

# go.mod and go.sum must be what `go mod tidy` makes of them.
tidy:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result"; exit 1; }

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	GOOS=windows GOARCH=arm64 $(GO) vet ./...
	$(STATICCHECK) ./...
	GOOS=windows GOARCH=amd64 $(STATICCHECK) ./...
	GOOS=windows GOARCH=arm64 $(STATICCHECK) ./...

$(STATICCHECK): go.mod go.sum
	$(GO) build -o $@ honnef.co/go/tools/cmd/staticcheck

vuln: $(VULNDB)/db/index/db.json
	$(GOVULNCHECK) -db file://$(VULNDB)/db ./...

# indexdb, built from the same module with its own go.sum, turns the OSV
# files into the v1 layout.
$(VULNDB)/db/index/db.json:
	@set -e; src=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	  test -d "$$src/data/osv" || { echo "vuln: golang.org/x/vulndb@$(VULNDB_VERSION) has no data/osv in the module cache"; exit 1; }; \
	  rm -rf $(VULNDB).tmp && mkdir -p $(VULNDB).tmp; \
	  (cd "$$src" && GOWORK=off $(GO) build -o $(VULNDB).tmp/indexdb ./cmd/indexdb); \
	  $(VULNDB).tmp/indexdb -vulns "$$src/data/osv" -out $(VULNDB).tmp/db && rm $(VULNDB).tmp/indexdb; \
	  rm -rf $(VULNDB) && mv $(VULNDB).tmp $(VULNDB)

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
	bin/kdlaunch report --format html -o $(DEMO_REL)/report.html $(DEMO_REL)/debug.log
	@echo "demo: log, transcript, folded stacks and pprof profile in $(DEMO)/ (go tool pprof -http=: $(DEMO)/stacks.pb.gz)"
	@echo "demo: the HTML report is $(DEMO)/report.html (open it in a browser; bin/kdlaunch report --web $(DEMO)/debug.log serves pprof's UI)"
	@echo
	bin/kdlaunch report --top 5 $(DEMO)/debug.log

cross:
	bash scripts/cross.sh

test-windows:
	bash scripts/test-windows.sh

# docs/report.png: the demo's HTML report in headless Chromium.
screenshot: demo
	bash scripts/report-screenshot.sh $(DEMO)/report.html docs/report.png

clean:
	rm -rf bin dist demo
