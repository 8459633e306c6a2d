/* test_readers.c: placeholder until the readers module lands; replaced with its real tests. */
#include "vectro.h"
#include "vtest.h"

static void not_yet(void) { CHECK(1); }

const vt_test readers_tests[] = {{"not_yet", not_yet}};
const size_t readers_count = 1;
