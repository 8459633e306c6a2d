/* test_intq.c: placeholder until the intq codec module lands; replaced with its real tests. */
#include "vectro.h"
#include "vtest.h"

static void not_yet(void) { CHECK(1); }

const vt_test intq_tests[] = {{"not_yet", not_yet}};
const size_t intq_count = 1;
