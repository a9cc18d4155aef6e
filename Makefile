# het: the two entry points a user needs (see README.md).
#   make run    installs what is missing, builds, runs SqueezeNet v1.1 on the CPU
#   make test   installs what is missing, builds, runs the whole test suite,
#               then again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make study  installs, builds, runs the thesis' study on this machine into
#               results/$(PLATFORM) and draws its figures (experiments/study.py)
#   make figures  redraws every results/*/ study's figures into plots/
SHARED ?= $(abspath ../shared)
# The study's results folder, results/PLATFORM (default: architecture and cores).
PLATFORM ?=
# Extra options for experiments/study.py, e.g. STUDY_ARGS="--models squeezenet_v1.1 --images 20".
STUDY_ARGS ?=
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build build-asan run test test-release test-asan bench study figures clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSHARED_DIR=$(SHARED) >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHET_SANITIZE=ON -DHET_WERROR=ON -DSHARED_DIR=$(SHARED) >/dev/null
	@cmake --build build-asan -j $(JOBS)

run: build
	./build/bin/hetrun --model models/squeezenet_v1.1/deploy.prototxt --images $(SHARED)/images \
	    --labels $(SHARED)/images/synset_words.txt --top 5 --warmup 3 --repeat 10

test-release: build
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

test: test-release test-asan

study: build
	/usr/bin/python3 experiments/study.py --shared $(SHARED) $(if $(PLATFORM),--platform $(PLATFORM)) $(STUDY_ARGS)

figures: deps
	/usr/bin/python3 plots/figures.py

bench: build
	/usr/bin/python3 scripts/bench_cpu.py

clean:
	rm -rf build build-asan
