/* rotation.h: a seeded, dimension-preserving fast orthogonal rotation of R^d (randomised
 * Walsh-Hadamard with sign flips, O(d log d)), shared by the rabitq and pq codecs. Internal. */
#ifndef VEC_ROTATION_H
#define VEC_ROTATION_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

/* Construction (stable: codes written with a seed must decode the same everywhere).
 * p = the largest power of two <= d, e = 2 floor(d / 2). The rotation is a sequence of
 * orthogonal transforms T_i, each preceded by a diagonal of random signs D_i, and a last D:
 *     y = D_n T_{n-1} D_{n-1} ... T_0 D_0 x
 * d == p: three normalised Walsh-Hadamard transforms of size d (the classic HD HD HD).
 * Otherwise two rounds of: a Kac stage A, (x_i, x_{i+e/2}) -> (x_i + x_{i+e/2}, x_i - x_{i+e/2})
 * / sqrt 2 on [0, e) (round 0) or [d - e, d) (round 1), then the Walsh-Hadamard transform of size
 * p on [0, p), then on [d - p, d). The Kac stage sends half of every coordinate's mass to the
 * other end, and the two overlapping windows then spread both ends: one round already mixes all d
 * coordinates; the two Hadamard windows alone mix poorly when d is just under 2p. No padding:
 * the output has d coordinates (d = 384 stays 384, not 512).
 * Signs come from splitmix64 seeded with `seed`: the t-th sign (D_0's d signs first, then D_1,
 * ...) is bit t % 64 of output number t / 64 (the first output is number 0); bit 1 means -1.
 * Only IEEE add, subtract and multiply in a fixed order: the same seed gives the same bits on
 * every platform and instruction set. */
typedef struct vec_rotation vec_rotation;

/* @return VEC_OK, VEC_E_INVALID_ARG (d == 0), VEC_E_NOMEM. */
VEC_HIDDEN int vec_rotation_create(size_t d, uint64_t seed, vec_rotation **out);
/* out = R x (d floats each). out may equal x (in place); partial overlap is not allowed. */
VEC_HIDDEN void vec_rotation_apply(const vec_rotation *r, const float *x, float *out);
/* out = R^T y = R^-1 y (to float rounding). out may equal y. */
VEC_HIDDEN void vec_rotation_apply_inverse(const vec_rotation *r, const float *y, float *out);
VEC_HIDDEN void vec_rotation_free(vec_rotation *r);
VEC_HIDDEN size_t vec_rotation_dim(const vec_rotation *r);
VEC_HIDDEN uint64_t vec_rotation_seed(const vec_rotation *r);

#endif
