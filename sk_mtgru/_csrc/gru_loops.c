/* The time loops of sk_mtgru's GRU kernel (sk_mtgru/_gru.py), in C.
 *
 * Each step is one matrix product -- MKL's sgemm, the one torch itself calls, whose
 * address Python hands over with sk_mtgru_set_sgemm -- and one pass over the gates
 * that computes every elementwise operation of the step at once, where the Python
 * loop makes five calls, each a pass over memory and an operator dispatch. The
 * backward loop also computes the gates' local derivatives as it goes, instead of
 * seven passes over the whole sequence before it.
 *
 * Layouts (float32, row-major, contiguous), for T steps, B sequences, H units:
 *   gates   T x B x 3H  r, z (pre-activations, biases added; sigmoids written in
 *                       place) and g = W_hn h + b_hn (b_hn preset)
 *   gi_n    T x B x H   W_in x + b_in
 *   states  (T+1) x B x (H+1)  the states h_0 (zero) .. h_T; last column 1
 *   n       T x B x H   the candidate states
 *   w       3H x H      nn.GRU's weight_hh (r, z, n)
 *   grads   T x B x 4H  dL/d(a, pre_r, pre_z, g): a is n's pre-activation
 *   grad_w  (H+1) x 3H  += sum over steps of states[t]^T grads[t][:, r, z, g]:
 *                       weight_hh's gradient transposed, bias_hh's in its last
 *                       row; each step's part is added while it is in the cache
 *   grad_h  T x B x H   dL/dh_t along every path; grad_h[T-1] preset
 *   grad_output T x B x H
 *   lengths B   each sequence's steps, longest first (NULL: all have T). Step t
 *               computes only the sequences still running -- a prefix of the
 *               batch, so its product is one smaller sgemm; a finished
 *               sequence's state is carried over unchanged (its parameters get
 *               no gradient there)
 * Compiled with -ffast-math: exp is vectorised; tanh(a) is 2 sigmoid(2a) - 1.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef void (*sgemm_t)(const char *, const char *, const int *, const int *,
                        const int *, const float *, const float *, const int *,
                        const float *, const int *, const float *, float *,
                        const int *);
static sgemm_t sgemm = 0;

void sk_mtgru_set_sgemm(void *f) { sgemm = (sgemm_t)f; }

int sk_mtgru_abi(void) { return 2; }

/* Clamped: with -ffast-math the compiler may assume exp never overflows to inf;
   beyond +-80 the sigmoid is 0 or 1 in float32 anyway. */
static inline float sigmoid(float x) {
  x = x < -80.0f ? -80.0f : (x > 80.0f ? 80.0f : x);
  return 1.0f / (1.0f + expf(-x));
}

/* How many of the sequences (longest first) are still running at step t. */
static inline int running(int t, const int64_t *lengths, int active) {
  if (!lengths) return active;
  while (active > 0 && lengths[active - 1] <= t) --active;
  return active;
}

void sk_mtgru_gru_forward(int T, int B, int H, const int64_t *lengths,
                          float *gates, const float *gi_n, float *states, float *n,
                          const float *w) {
  const float one = 1.0f;
  const int m = 3 * H, k = H, ldb = H + 1, ldc = 3 * H;
  int nb = B;
  for (int t = 0; t < T; ++t) {
    float *g = gates + (int64_t)t * B * 3 * H;
    const float *h = states + (int64_t)t * B * (H + 1);
    float *h_next = states + (int64_t)(t + 1) * B * (H + 1);
    nb = running(t, lengths, nb);
    for (int b = nb; b < B; ++b) /* finished: the state stays */
      memcpy(h_next + (int64_t)b * (H + 1), h + (int64_t)b * (H + 1),
             sizeof(float) * H);
    if (nb == 0) continue;
    /* gates[t] += h_t W_hh^T (column-major: W_hh^T is w read transposed) */
    sgemm("T", "N", &m, &nb, &k, &one, w, &k, h, &ldb, &one, g, &ldc);
    for (int b = 0; b < nb; ++b) {
      float *restrict gb = g + (int64_t)b * 3 * H;
      const float *restrict hb = h + (int64_t)b * (H + 1);
      float *restrict hn = h_next + (int64_t)b * (H + 1);
      const float *restrict ib = gi_n + ((int64_t)t * B + b) * H;
      float *restrict nb_ = n + ((int64_t)t * B + b) * H;
      for (int j = 0; j < 2 * H; ++j) gb[j] = sigmoid(gb[j]);
      const float *restrict r = gb, *restrict z = gb + H, *restrict g = gb + 2 * H;
      _Pragma("omp simd")
      for (int j = 0; j < H; ++j) {
        float cand = 2.0f * sigmoid(2.0f * (ib[j] + r[j] * g[j])) - 1.0f;
        nb_[j] = cand;
        hn[j] = cand + z[j] * (hb[j] - cand); /* (1 - z) n + z h */
      }
    }
  }
}

void sk_mtgru_gru_backward(int T, int B, int H, const int64_t *lengths,
                           float *grads, float *grad_w, float *grad_h,
                           const float *grad_output, const float *gates,
                           const float *states, const float *n, const float *w) {
  const float one = 1.0f;
  const int m = H, k = 3 * H, ldb = 4 * H, ldc = H;
  const int m_w = 3 * H, n_w = H + 1, ld_s = H + 1;
  for (int t = T - 1; t >= 0; --t) {
    float *gt = grads + (int64_t)t * B * 4 * H;
    const int nb = running(t, lengths, B);
    /* past a sequence's end nothing depends on its parameters */
    memset(gt + (int64_t)nb * 4 * H, 0, sizeof(float) * 4 * H * (B - nb));
    for (int b = 0; b < nb; ++b) {
      const float *restrict gh = grad_h + ((int64_t)t * B + b) * H;
      const float *restrict gb = gates + ((int64_t)t * B + b) * 3 * H;
      const float *restrict nb_ = n + ((int64_t)t * B + b) * H;
      const float *restrict hb = states + ((int64_t)(t + 1) * B + b) * (H + 1);
      float *restrict out_a = gt + (int64_t)b * 4 * H, *restrict out_r = out_a + H;
      float *restrict out_z = out_a + 2 * H, *restrict out_g = out_a + 3 * H;
      const float *restrict rr = gb, *restrict zz = gb + H, *restrict gg = gb + 2 * H;
      _Pragma("omp simd")
      for (int j = 0; j < H; ++j) {
        float r = rr[j], z = zz[j], g = gg[j], cand = nb_[j];
        float keep = 1.0f - z;
        float d_a = gh[j] * keep * (1.0f - cand * cand);
        float d_g = d_a * r;
        out_a[j] = d_a;
        out_r[j] = d_g * g * (1.0f - r);
        out_z[j] = gh[j] * (hb[j] - cand) * keep;
        out_g[j] = d_g;
      }
    }
    /* grad_w += states[t]^T grads[t] (column-major: grads[t]^T states[t]) */
    if (nb > 0)
      sgemm("N", "T", &m_w, &n_w, &nb, &one, gt + H, &ldb,
            states + (int64_t)t * B * (H + 1), &ld_s, &one, grad_w, &m_w);
    if (t == 0) break;
    float *prev = grad_h + (int64_t)(t - 1) * B * H;
    for (int b = 0; b < B; ++b) {
      float *restrict p = prev + (int64_t)b * H;
      const float *restrict o = grad_output + ((int64_t)(t - 1) * B + b) * H;
      const float *restrict gh = grad_h + ((int64_t)t * B + b) * H;
      const float *restrict z = gates + ((int64_t)t * B + b) * 3 * H + H;
      if (b < nb)
        for (int j = 0; j < H; ++j) p[j] = o[j] + gh[j] * z[j];
      else /* past the end the state is carried over unchanged */
        for (int j = 0; j < H; ++j) p[j] = o[j] + gh[j];
    }
    /* grad_h[t-1] += grads[t][:, r, z, g] W_hh */
    if (nb > 0)
      sgemm("N", "N", &m, &nb, &k, &one, w, &m, gt + H, &ldb, &one, prev, &ldc);
  }
}
