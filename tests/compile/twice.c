/* tests/compile/twice.c - the header included several times in one translation unit:
   plain, plain again (include guard), with DL_IMPLEMENTATION, and once more after the
   implementation (its "done" guard). */
#include "dl.h"
#include "dl.h"
#define DL_IMPLEMENTATION
#include "dl.h"
#include "dl.h"
#include <string.h>

int main(void) { return strcmp(dl_version(), "0.1.0") == 0 ? 0 : 1; }
