/* test_binary.c: placeholder until the binary codec module lands; replaced with its real tests. */
#include "vectro.h"
#include "vtest.h"

static void not_yet(void) { CHECK(1); }

const vt_test binary_tests[] = {{"not_yet", not_yet}};
const size_t binary_count = 1;
