/* examples/14_cuda_mlp.cu - examples/03_fashion_mlp.c on an NVIDIA GPU. It is that program,
   included as it is, with one line changed: the context's backend,
       cd.backend = dl_cuda_backend();
   Everything else (the model, the data loading, the training loop, dl_item, dl_accuracy)
   is the same code; tensors live on the GPU, minibatches are uploaded as they are built.
   Build: nvcc -O2 -arch=native -I. examples/14_cuda_mlp.cu -o build/14_cuda_mlp -lcublas
     or, with the CUDA code in its own object (any C compiler for the program):
       nvcc -O2 -arch=native -I. -x cu -DDL_CUDA_IMPLEMENTATION -c dl_cuda.h -o build/dl_cuda.o
       cc -O2 -I. -DEXAMPLE_BACKEND='dl_cuda_backend()' -include dl_cuda.h examples/03_fashion_mlp.c \
          build/dl_cuda.o -L/usr/local/cuda/lib64 -lcudart -lcublas -lstdc++ -lm -o build/03_on_gpu
   Run:   build/14_cuda_mlp [epochs] [data_dir] [--constant-lr]   (as examples/03)
   Without a usable GPU dl_ctx_init returns NULL and the program says so. */
#define DL_CUDA_IMPLEMENTATION
#include "../dl_cuda.h"
#define EXAMPLE_BACKEND dl_cuda_backend()
#include "03_fashion_mlp.c"
