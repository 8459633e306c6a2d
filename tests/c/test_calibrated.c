/* test_calibrated.c: placeholder until the calibrated codec module lands; replaced with its real
 * tests. */
#include "vectro.h"
#include "vtest.h"

static void not_yet(void) { CHECK(1); }

const vt_test calibrated_tests[] = {{"not_yet", not_yet}};
const size_t calibrated_count = 1;
