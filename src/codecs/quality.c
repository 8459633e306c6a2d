/* quality.c: the quality figures of a reconstruction, defined once for C, Python and the CLI. */
#include <math.h>

#include "codec_impl.h"

int vec_quality_measure(const float *x, size_t ldx, const float *xhat, size_t ldh, size_t n,
                        size_t d, vec_quality *out) {
  return vec_quality_measure_opts(x, ldx, xhat, ldh, n, d, out, NULL);
}

int vec_quality_measure_opts(const float *x, size_t ldx, const float *xhat, size_t ldh, size_t n,
                             size_t d, vec_quality *out, const vec_batch_opts *opts) {
  vec_clear_error();
  if (opts && opts->struct_size < sizeof *opts)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_batch_opts.struct_size is %zu, expected %zu",
                    opts->struct_size, sizeof *opts);
  vec_progress_fn progress = opts ? opts->progress : NULL;
  /* Progress every 2^20 values (a few ms of work), so a callback can stop a long measure. */
  size_t every = d < ((size_t)1 << 20) ? ((size_t)1 << 20) / d : 1;
  if (!out || out->struct_size < sizeof(vec_quality))
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_quality.struct_size must be set");
  if (d == 0 || ldx < d || ldh < d || (n && (!x || !xhat)))
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_quality_measure: bad shape or NULL buffer");
  double rel_sum = 0, rel_max = 0, cos_sum = 0, cos_min = n ? 1.0 : 0.0, mae_sum = 0, max_abs = 0;
  size_t rel_n = 0, cos_n = 0, mae_n = 0;
  for (size_t i = 0; i < n; i++) {
    if (progress && i && i % every == 0 && progress(opts->progress_user, i, n))
      return vec_fail(VEC_E_CANCELLED, -1, "cancelled by the progress callback");
    const float *a = x + i * ldx, *b = xhat + i * ldh;
    double xx = 0, hh = 0, xh = 0, ee = 0, abs_sum = 0, amax = 0;
    for (size_t j = 0; j < d; j++) {
      double u = a[j], v = b[j], e = u - v;
      if (!isfinite(u) || !isfinite(v))
        return vec_fail(VEC_E_NONFINITE, (long long)i, "row %zu holds NaN or Inf", i);
      xx += u * u, hh += v * v, xh += u * v, ee += e * e;
      abs_sum += fabs(e);
      amax = fabs(u) > amax ? fabs(u) : amax;
      max_abs = fabs(e) > max_abs ? fabs(e) : max_abs;
    }
    if (xx > 0) {
      double r = sqrt(ee / xx);
      rel_sum += r, rel_n++;
      rel_max = r > rel_max ? r : rel_max;
      mae_sum += abs_sum / (double)d / amax, mae_n++;
    }
    if (xx > 0 && hh > 0) {
      double cs = xh / sqrt(xx * hh);
      cos_sum += cs, cos_n++;
      cos_min = cs < cos_min ? cs : cos_min;
    }
  }
  out->rel_l2_mean = rel_n ? rel_sum / (double)rel_n : 0.0;
  out->rel_l2_max = rel_max;
  out->cosine_mean = cos_n ? cos_sum / (double)cos_n : 1.0;
  out->cosine_min = cos_n ? cos_min : 1.0;
  out->mae = mae_n ? mae_sum / (double)mae_n : 0.0;
  out->max_abs_err = max_abs;
  out->zero_rows = n - rel_n;
  return VEC_OK;
}
