# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# oxmigrate: the two commands are `make demo` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
# test files run at once per pass (t/run.sh); make test runs its two
# passes side by side (docs/testing.md); OXM_JOBS=1: one file at a time
OXM_JOBS   ?= 3

.PHONY: all build deps test test-asan unit fuzz demo demo-stop bench \
        bench-admin bench-upgrade bench-hold clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@scripts/build.sh $(BUILD)
	@$(MAKE) --no-print-directory cli

.PHONY: cli deb image

# the oxmigrate command (cli/, docs/cli.md)
cli:
	@mkdir -p $(BUILD)
	@$(MAKE) --no-print-directory -s -C cli BUILD=$(abspath $(BUILD))
	@echo "built $(BUILD)/oxmigrate"

# the Debian packages libnginx-mod-http-oxmigrate and oxmigrate-tools
# (debian/), into $(BUILD)/deb
deb: deps
	@scripts/deb.sh $(BUILD)/deb

# the runtime image (Dockerfile, stage runtime); t/52-image.t tests it:
# OXM_IMAGE=oxmigrate t/run.sh build/ngx_http_oxmigrate_module.so t/52-image.t
image:
	docker build --target runtime -t $${OXM_IMAGE:-oxmigrate} .

# Unit tests of the login parser, then every prove test against real nginx,
# MariaDB and Redis on loopback and, at the same time, the Debian packages
# (t/51-deb.t checks them), the ASan/UBSan build and the same suite against
# it (scripts/test-passes.sh).
test: build unit
	@OXM_JOBS=$(OXM_JOBS) scripts/test-passes.sh $(BUILD) $(ASAN_BUILD)

test-asan: deps
	@SANITIZE=1 scripts/build.sh $(ASAN_BUILD)
	@OXM_ASAN=1 OXM_JOBS=$(OXM_JOBS) t/run.sh $(ASAN_BUILD)/ngx_http_oxmigrate_module.so

unit: deps
	@mkdir -p $(BUILD)
	@$(CC) -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined \
	    -Isrc -o $(BUILD)/unit-login t/unit/login_test.c src/oxm_login.c
	@$(BUILD)/unit-login

fuzz: deps
	@mkdir -p $(BUILD)/fuzz-corpus
	@clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
	    -o $(BUILD)/fuzz-login fuzz/login_fuzz.c src/oxm_login.c
	@$(BUILD)/fuzz-login -max_total_time=$${FUZZ_SECONDS:-60} \
	    $(BUILD)/fuzz-corpus fuzz/corpus

demo: build
	@scripts/demo.sh start

demo-stop:
	@scripts/demo.sh stop

bench: build
	@bench/bench.sh $(BUILD)/ngx_http_oxmigrate_module.so

bench-admin: build
	@bench/bench-admin.sh $(BUILD)/ngx_http_oxmigrate_module.so

# logins during an upgrade job: the global epoch against the change log
bench-upgrade: build
	@bench/bench-upgrade.sh $(BUILD)/ngx_http_oxmigrate_module.so

# oxmigrate_hold: 10 000 held logins in one worker, released together;
# then a 50-schema job with logins on both balancers throughout
bench-hold: build
	@bench/bench-hold.sh $(BUILD)/ngx_http_oxmigrate_module.so
	@bench/bench-hold-job.sh $(BUILD)/ngx_http_oxmigrate_module.so

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
