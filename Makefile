# make test: the project's one test command (see README).
#
# It starts throw-away backends (internal/testenv) on free loopback ports,
# runs vet, the gofmt check, the race-enabled test suite and short fuzz runs
# against them, and stops the backends afterwards. Set
# SESSIONKIT_REQUIRE_BACKENDS=1 (CI does) to turn backend skips into failures.

GO        ?= go
FUZZTIME  ?= 5s
TESTFLAGS ?= -race -count=1 -timeout 20m
WITH_BACKENDS = $(GO) run ./internal/testenv/cmd/withbackends --

.PHONY: test vet fmt-check unit fuzz demo bench

test: vet fmt-check unit fuzz

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

unit:
	$(WITH_BACKENDS) $(GO) test $(TESTFLAGS) ./...

# Short runs of every fuzz target in the main module; lengthen with
# FUZZTIME=1m. Packages are found by their "func Fuzz" declarations.
fuzz:
	@set -e; for file in $$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./bench/' | sort); do \
		dir=$$(dirname $$file); \
		for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "fuzz $$dir $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done

demo:
	$(GO) run ./examples/demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
