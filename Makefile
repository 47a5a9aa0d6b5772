# `make test` is the one test command: README.md and .ci/run both use it.

# The harness (integration/zktest) starts ZooKeeper with testcontainers-go.
# Ryuk is not used: its image lives in a registry, and the harness cleans up.
export TESTCONTAINERS_RYUK_DISABLED := true
# Without a registry, the image is built locally from Debian's packages.
export ZKTEST_IMAGE ?= zkrecipes/zookeeper:debian

GO ?= go

.PHONY: test test-offline example bench image vet fmt-check

test: image fmt-check vet test-offline
	$(GO) test -race -count=1 -timeout 30m ./...

# Tests that need no server (parsing, paths, the wire splitter, the safety
# checker, the harness's own logic, fuzz seeds) pass where no Docker engine
# can be reached; the shared test cluster starts only when a test uses it.
OFFLINE := ^(Fuzz|Test(Parse|Followers|GoKeeps|FindOurNode|KillSignals|Turns|AZeroSession|NilHolds|SessionsRefuseBad|LiveDescendants|UsageRejects|SeqBefore|Blockers|ValidatePath$$|ServerRule|Frames|Tap|Surface|Defaults|RecipesRefuse|SharedCluster|Check|Store|CountFormat|NewChecks|LeaseOffers|WrittenByOther|ParseMaxHold|EveryExtension|Retime|RevokeRequestsKeep|WaitFor|TopFigures|CommandEnv|ALostHoldStops|ZeroRecipes))
test-offline:
	scripts/nodocker $(GO) test -count=1 -run '$(OFFLINE)' ./internal/core ./recipes ./integration/zktest ./integration/safety ./semaphore ./cmd/zkr
	cd bench && ../scripts/nodocker $(GO) test -count=1 ./...

# The inventory example: worker processes selling from one stock record under
# the lock, against ZK_SERVERS or a throwaway ZooKeeper in Docker.
example: image
	$(GO) run ./examples/inventory -kill

# Side-by-side benchmark against go-zookeeper, Curator and Kazoo (needs a JDK,
# libcurator-recipes-java and python3-kazoo, which .ci/run installs). It is a
# module of its own, so that its plotting library is no dependency of ours.
bench: image
	cd bench && $(GO) run . -out results

image:
	bash scripts/zkimage/build.sh "$(ZKTEST_IMAGE)"

vet:
	$(GO) vet ./...
	cd bench && $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
