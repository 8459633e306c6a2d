/* test_pq.c: the pq codec (placeholder until the codec lands). */
#include "vtest.h"
const vt_test pq_tests[] = {{"none", NULL}};
const size_t pq_count = 0;
