# dl.h - build and test. Everything built goes in build/.
#   make test       every leg: main suite, compile tests, ASan+UBSan, valgrind (what CI runs)
#   make check      just the main suite (fast)
#   make asan       the main suite under -fsanitize=address,undefined (gcc)
#   make valgrind   the main suite under valgrind memcheck
#   make examples   build examples/*.c into build/
#   make demo       build and run examples/02_digits.c (an MLP on the 8x8 digits, ~1 s)
#   make bench      benchmarks: bench/gemm.c, then W1-W5 against PyTorch (bench/run_workloads.sh)
#   make fuzz       libFuzzer on the weights and IDX/gzip parsers (FUZZ_SECONDS, default 60)
#   make cuda       dl_cuda.h with nvcc (sm_80 + sm_90): the CUDA suite, examples/14, the CUDA
#                   benchmark into build/cuda/; then the CUDA suite (SKIP without a GPU) and
#                   the same suite emulated on the CPU
#   make bench-cuda W1-W5 on the GPU against PyTorch on the same GPU (needs a GPU)
#   make clean      remove build/
CC ?= cc
CFLAGS ?= -O2
WARN = -std=c99 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -Wdouble-promotion

EXAMPLES := $(patsubst examples/%.c,build/%,$(wildcard examples/*.c))

.PHONY: test check asan valgrind examples demo bench clean fuzz cuda bench-cuda

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

# bench/gemm.c needs OpenBLAS (libopenblas-dev), and adds oneDNN when libdnnl-dev is installed; its
# OPENBLAS_* overrides are unset, OMP_NUM_THREADS=1 (oneDNN's threads), for the
# benchmark alone (WORKLOADS.md). QUICK=1 make bench: a ~2-minute smoke run of the workloads.
ONEDNN = $(shell [ -f /usr/include/dnnl.h ] && echo "-DBENCH_ONEDNN -ldnnl")
bench:
	@mkdir -p build
	$(CC) -O2 -march=native -I. bench/gemm.c -o build/bench_gemm -lopenblas $(ONEDNN) -lm -pthread
	$(CC) -O2 -march=native -pthread -I. bench/workloads.c -o build/bench_workloads -lm
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 ./build/bench_gemm
	CC="$(CC)" bash bench/run_workloads.sh

NVCC ?= $(shell command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)
NVFLAGS = -O2 -std=c++14 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -Werror all-warnings -I. -Ibench
cuda:
	@mkdir -p build/cuda
	$(NVCC) $(NVFLAGS) tests/cuda/test_cuda.cu -o build/cuda/test_cuda -lcublas
	$(NVCC) $(NVFLAGS) examples/14_cuda_mlp.cu -o build/cuda/14_cuda_mlp -lcublas
	$(NVCC) $(NVFLAGS) bench/cuda_workloads.cu -o build/cuda/cuda_workloads -lcublas
	./build/cuda/test_cuda | tail -n 2
	g++ -O1 -std=c++11 -Wall -Wextra -Werror -DDLC_EMULATE -I. -x c++ tests/cuda/test_cuda.cu -o build/cuda/test_cuda_emu
	./build/cuda/test_cuda_emu | tail -n 1

bench-cuda:
	bash bench/run_cuda_workloads.sh

FUZZ_SECONDS ?= 60
fuzz:
	@mkdir -p build/fuzz_corpus
	@cp tests/data/*.gz tests/data/tiny-idx3-ubyte build/fuzz_corpus/
	clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all tests/fuzz/fuzz_load.c -o build/fuzz_load -lm
	./build/fuzz_load -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz_corpus

clean:
	rm -rf build
