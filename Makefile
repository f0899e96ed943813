# ---------------------------------------------------------------------------
# Lambda builds, as sam build calls them.
#
# template.yaml gives every function BuildMethod: makefile, so sam build runs
# `make build-<LogicalId>` with ARTIFACTS_DIR set and packages whatever lands
# there. Each target builds ./functions/<route> as a static binary named
# bootstrap (what provided.al2023 executes). GOARCH must match the template's
# Architectures (arm64); tests override it with the host's architecture to
# run the binary locally. Without ARTIFACTS_DIR, a target builds into
# build/<LogicalId>/, and `make build-functions` builds all of them there.
# One line per route of internal/api/routes.go: <LogicalId>,<route name>.
# ---------------------------------------------------------------------------
GOARCH ?= arm64
LAMBDA_GOFLAGS := -trimpath -tags lambda.norpc -ldflags='-s -w'

.PHONY: build-functions
build-functions:

# lambda-function,<LogicalId>,<route name>: defines target build-<LogicalId>.
define lambda-function
.PHONY: build-$(1)
build-functions: build-$(1)
build-$(1):
	GOOS=linux GOARCH=$$(GOARCH) CGO_ENABLED=0 go build $$(LAMBDA_GOFLAGS) -o $$(or $$(ARTIFACTS_DIR),build/$(1))/bootstrap ./functions/$(2)
endef

$(eval $(call lambda-function,ListCheckpointsFunction,list-checkpoints))
$(eval $(call lambda-function,CreateCheckpointFunction,create-checkpoint))
$(eval $(call lambda-function,ShowCheckpointFunction,show-checkpoint))
$(eval $(call lambda-function,DeleteCheckpointFunction,delete-checkpoint))
$(eval $(call lambda-function,ResetCheckpointStateFunction,reset-checkpoint-state))
$(eval $(call lambda-function,ListProvidersFunction,list-providers))
$(eval $(call lambda-function,ShowProviderFunction,show-provider))
$(eval $(call lambda-function,CreatePlanFunction,create-plan))
$(eval $(call lambda-function,ListPlansFunction,list-plans))
$(eval $(call lambda-function,ShowPlanFunction,show-plan))
$(eval $(call lambda-function,UpdatePlanFunction,update-plan))
$(eval $(call lambda-function,DeletePlanFunction,delete-plan))
