/* test_half.c: placeholder until the half codec module lands; replaced with its real tests. */
#include "vectro.h"
#include "vtest.h"

static void not_yet(void) { CHECK(1); }

const vt_test half_tests[] = {{"not_yet", not_yet}};
const size_t half_count = 1;
