/* test_vqz.c: placeholder until the vqz module lands; replaced with its real tests. */
#include "vectro.h"
#include "vtest.h"

static void not_yet(void) { CHECK(1); }

const vt_test vqz_tests[] = {{"not_yet", not_yet}};
const size_t vqz_count = 1;
