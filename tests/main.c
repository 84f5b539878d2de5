/* tests/main.c - the test suite: one binary, every suite, ends "N passed, N failed".
   Build: make test   (or: cc -O2 -I. tests/main.c -lm -o tests/run && tests/run [filter]) */
#define DL_IMPLEMENTATION
#include "../dl.h"
#include "harness.h"

#include "test_core.c"
#include "test_ref.c"
#include "test_gradcheck.c"
#include "test_train.c"
#include "test_io.c"
#include "test_conv.c"
#include "test_pool.c"
#include "test_norm.c"
#include "test_image.c"
#include "test_rnn.c"
#include "test_attention.c"
#include "test_rbm.c"
#include "test_gen_ae.c"
#include "test_gan.c"
#include "test_vmath.c"

int main(int argc, char **argv) {
    if (argc > 1) t_filter = argv[1];
    suite_core();
    suite_ref();
    suite_gradcheck();
    suite_train();
    suite_io();
    suite_conv();
    suite_pool();
    suite_norm();
    suite_image();
    suite_rnn();
    suite_attention();
    suite_rbm();
    suite_gen_ae();
    suite_gan();
    suite_vmath();
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}
