/* kernel_flags.h: the flags every kernel takes, in a header of its own so that the family headers
 * need not include kernels.h (which includes them all). */
#ifndef VEC_KERNEL_FLAGS_H
#define VEC_KERNEL_FLAGS_H

#include "../common/internal.h"

/* Kernel flags. */
#define VEC_KF_STREAM 1u /* output will not be read soon: non-temporal stores where aligned */

#endif
