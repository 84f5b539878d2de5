# dl.h - build and test. Everything built goes in build/.
#   make test       every leg: main suite, compile tests, ASan+UBSan, valgrind (what CI runs)
#   make check      just the main suite (fast)
#   make asan       the main suite under -fsanitize=address,undefined (gcc)
#   make valgrind   the main suite under valgrind memcheck
#   make examples   build examples/*.c into build/
#   make demo       build and run examples/02_digits.c (an MLP on the 8x8 digits, ~1 s)
#   make bench      benchmarks: bench/gemm.c, then W1-W5 against PyTorch (bench/run_workloads.sh)
#   make fuzz       libFuzzer on the weights and IDX/gzip parsers (FUZZ_SECONDS, default 60)
#   make clean      remove build/
CC ?= cc
CFLAGS ?= -O2
WARN = -std=c99 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -Wdouble-promotion

EXAMPLES := $(patsubst examples/%.c,build/%,$(wildcard examples/*.c))

.PHONY: test check asan valgrind examples demo bench clean fuzz

test:
	@CC="$(CC)" bash tests/run_all.sh

check:
	@CC="$(CC)" bash tests/run_all.sh main

asan:
	@CC="$(CC)" bash tests/run_all.sh asan

valgrind:
	@CC="$(CC)" bash tests/run_all.sh valgrind

examples: $(EXAMPLES)
	@if [ -z "$(EXAMPLES)" ]; then echo "no examples yet (examples/*.c)"; fi

demo: build/02_digits
	./build/02_digits examples/data/digits.txt

$(EXAMPLES): build/%: examples/%.c dl.h examples/fashion_mnist.h
	@mkdir -p build
	$(CC) $(CFLAGS) $(WARN) -I. $< -o $@ -lm

# bench/gemm.c needs OpenBLAS (libopenblas-dev); its OPENBLAS_* overrides are unset for the
# benchmark alone (WORKLOADS.md). QUICK=1 make bench: a ~2-minute smoke run of the workloads.
bench:
	@mkdir -p build
	$(CC) -O2 -march=native -I. bench/gemm.c -o build/bench_gemm -lopenblas -lm -pthread
	$(CC) -O2 -march=native -pthread -I. bench/workloads.c -o build/bench_workloads -lm
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ./build/bench_gemm
	CC="$(CC)" bash bench/run_workloads.sh

FUZZ_SECONDS ?= 60
fuzz:
	@mkdir -p build/fuzz_corpus
	@cp tests/data/*.gz tests/data/tiny-idx3-ubyte build/fuzz_corpus/
	clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all tests/fuzz/fuzz_load.c -o build/fuzz_load -lm
	./build/fuzz_load -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz_corpus

clean:
	rm -rf build
