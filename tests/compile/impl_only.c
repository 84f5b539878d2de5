/* tests/compile/impl_only.c - the implementation alone, compiled as C; api.c built as C++
   with -DAPI_NO_IMPL links against it (checks the extern "C" block). */
#define DL_IMPLEMENTATION
#include "dl.h"
