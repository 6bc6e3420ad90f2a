# make test: the project's one test command (see README).
#
# It starts throw-away backends (internal/testenv) on free loopback ports,
# runs vet, the gofmt check, staticcheck, the race-enabled test suite (the
# nested modules' too) and short fuzz runs
# against them, and stops the backends afterwards. Set
# SESSIONKIT_REQUIRE_BACKENDS=1 (CI does) to turn backend skips into failures.

GO        ?= go
FUZZTIME  ?= 3000x
TESTFLAGS ?= -race -count=1 -timeout 20m
WITH_BACKENDS = $(GO) run ./internal/testenv/cmd/withbackends --

# Nested modules (own go.mod, replace of the main module) whose tests need
# no backend: the framework adapters, the exporters and the router
# examples. bench, examples/demo/browsertest and internal/testenv's nested
# modules are run by their own targets.
NESTED = contrib/gin contrib/echo contrib/fiber contrib/prometheus contrib/otel examples/chi examples/gorillamux
# Every module staticcheck covers.
MODULES = . bench examples/demo/browsertest internal/testenv/ferretdb internal/testenv/oidcop $(NESTED)
# staticcheck, pinned; go run fetches it through the module proxy once and
# caches the build.
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test vet fmt-check staticcheck unit nested fuzz browser demo bench bench-frameworks bench-compare

test: vet fmt-check staticcheck unit nested fuzz browser

vet:
	$(GO) vet ./...
	$(GO) -C bench vet ./...
	$(GO) -C internal/testenv/oidcop vet ./...
	@set -e; for m in $(NESTED); do echo "vet $$m"; $(GO) -C $$m vet ./...; done

staticcheck:
	@set -e; for m in $(MODULES); do echo "staticcheck $$m"; (cd $$m && $(STATICCHECK) ./...); done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

unit:
	$(WITH_BACKENDS) $(GO) test $(TESTFLAGS) ./...
	$(GO) -C bench test $(TESTFLAGS) ./cmd/compare/
	$(GO) -C internal/testenv/oidcop test $(TESTFLAGS) ./...

nested:
	@set -e; for m in $(NESTED); do $(GO) -C $$m test $(TESTFLAGS) ./...; done

# Short runs of every fuzz target in the main module; lengthen with
# FUZZTIME=1m. Packages are found by their "func Fuzz" declarations. The
# default is an execution count, not a duration: Go 1.26's fuzz coordinator
# can report a spurious "context deadline exceeded" when a duration ends
# while a worker is busy on a loaded machine (golang/go#75804).
fuzz:
	@set -e; for file in $$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v -e '^./bench/' -e '^./contrib/' -e '^./examples/chi/' -e '^./examples/gorillamux/' | sort); do \
		dir=$$(dirname $$file); \
		for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "fuzz $$dir $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done

# The demo driven in headless Chromium (examples/demo/browsertest, a nested
# module so chromedp stays out of go.mod). Screenshots: test-output/browser/.
browser:
	@if command -v chromium >/dev/null 2>&1 || [ -n "$$SESSIONKIT_CHROMIUM" ]; then \
		cd examples/demo/browsertest && $(GO) vet ./... && $(GO) test -count=1 -timeout 10m ./...; \
	elif [ -n "$$SESSIONKIT_REQUIRE_BACKENDS" ]; then \
		echo "browser: chromium is not installed and SESSIONKIT_REQUIRE_BACKENDS is set (apt-get install chromium)"; exit 1; \
	else \
		echo "browser: SKIPPED: chromium is not installed (apt-get install chromium to run the browser test)"; \
	fi

demo:
	$(GO) run ./examples/demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Each framework adapter's overhead over plain net/http (docs/BENCHMARKS.md).
bench-frameworks:
	@set -e; for m in contrib/gin contrib/echo contrib/fiber; do $(GO) -C $$m test -run '^$$' -bench . -benchmem -count 5 ./...; done

# Cross-library HTTP benchmark (bench/, its own module): every target runs as
# its own server process on loopback against throw-away Redis and PostgreSQL;
# writes docs/BENCHMARKS.md's cross-library section and docs/bench.svg.
bench-compare:
	$(GO) run ./internal/testenv/cmd/withbackends -only redis,postgres -- $(GO) -C bench run ./cmd/compare
