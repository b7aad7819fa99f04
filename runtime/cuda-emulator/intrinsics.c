/*===- intrinsics.c - NVVM intrinsics other than warp collectives --------===*
 *
 * Special registers, the block barrier, fences, and the arithmetic that
 * libdevice and the NVPTX lowering leave as intrinsics. `approx` operations
 * are computed exactly (the GPU's error bounds contain the exact result);
 * `ftz` flushes subnormal inputs and results to zero; explicit rounding
 * modes are applied with the host's rounding control.
 *
 *===---------------------------------------------------------------------===*/

#include "emulator.h"

#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static emu_fiber *me(void) { return emu_current->current; }

#define SREG(name, expr)                                                       \
  int32_t __moe_emu_read_ptx_sreg_##name(void) { return (int32_t)(expr); }
SREG(tid_x, me()->tid[0])
SREG(tid_y, me()->tid[1])
SREG(tid_z, me()->tid[2])
SREG(ntid_x, emu_current->launch->block[0])
SREG(ntid_y, emu_current->launch->block[1])
SREG(ntid_z, emu_current->launch->block[2])
SREG(ctaid_x, emu_current->block[0])
SREG(ctaid_y, emu_current->block[1])
SREG(ctaid_z, emu_current->block[2])
SREG(nctaid_x, emu_current->launch->grid[0])
SREG(nctaid_y, emu_current->launch->grid[1])
SREG(nctaid_z, emu_current->launch->grid[2])
SREG(laneid, me()->linear % 32)
SREG(warpid, me()->linear / 32)
SREG(warpsize, 32)

/* bar.sync 0 for the whole block (the id is not distinguished). */
void __moe_emu_barrier_cta_sync_aligned_all(int32_t id) {
  (void)id;
  emu_yield(FIBER_BARRIER);
}
void __moe_emu_barrier0(void) { emu_yield(FIBER_BARRIER); }
void __moe_emu_barrier_sync(int32_t id) {
  (void)id;
  emu_yield(FIBER_BARRIER);
}

/* Blocks on other workers run concurrently: fences are real. */
void __moe_emu_membar_gl(void) { atomic_thread_fence(memory_order_seq_cst); }
void __moe_emu_membar_cta(void) { atomic_thread_fence(memory_order_seq_cst); }
void __moe_emu_membar_sys(void) { atomic_thread_fence(memory_order_seq_cst); }

static float ftz(float x) {
  return fpclassify(x) == FP_SUBNORMAL ? copysignf(0.0f, x) : x;
}

#define ROUNDED(T, name, mode, expr)                                           \
  T name {                                                                     \
    int saved = fegetround();                                                  \
    fesetround(mode);                                                          \
    volatile T r = (expr);                                                     \
    fesetround(saved);                                                         \
    return r;                                                                  \
  }
ROUNDED(float, __moe_emu_fma_rn_f(float a, float b, float c), FE_TONEAREST,
        fmaf(a, b, c))
ROUNDED(float, __moe_emu_fma_rz_f(float a, float b, float c), FE_TOWARDZERO,
        fmaf(a, b, c))
ROUNDED(float, __moe_emu_fma_rm_f(float a, float b, float c), FE_DOWNWARD,
        fmaf(a, b, c))
ROUNDED(float, __moe_emu_fma_rp_f(float a, float b, float c), FE_UPWARD,
        fmaf(a, b, c))
ROUNDED(double, __moe_emu_fma_rn_d(double a, double b, double c), FE_TONEAREST,
        fma(a, b, c))
ROUNDED(double, __moe_emu_fma_rz_d(double a, double b, double c), FE_TOWARDZERO,
        fma(a, b, c))
ROUNDED(double, __moe_emu_fma_rm_d(double a, double b, double c), FE_DOWNWARD,
        fma(a, b, c))
ROUNDED(double, __moe_emu_fma_rp_d(double a, double b, double c), FE_UPWARD,
        fma(a, b, c))
ROUNDED(float, __moe_emu_add_rm_f(float a, float b), FE_DOWNWARD, a + b)
ROUNDED(float, __moe_emu_add_rp_f(float a, float b), FE_UPWARD, a + b)
ROUNDED(float, __moe_emu_add_rz_f(float a, float b), FE_TOWARDZERO, a + b)
ROUNDED(float, __moe_emu_mul_rm_f(float a, float b), FE_DOWNWARD, a *b)
ROUNDED(float, __moe_emu_mul_rp_f(float a, float b), FE_UPWARD, a *b)
ROUNDED(float, __moe_emu_mul_rz_f(float a, float b), FE_TOWARDZERO, a *b)

ROUNDED(double, __moe_emu_add_rm_d(double a, double b), FE_DOWNWARD, a + b)
ROUNDED(double, __moe_emu_add_rp_d(double a, double b), FE_UPWARD, a + b)
ROUNDED(double, __moe_emu_add_rz_d(double a, double b), FE_TOWARDZERO, a + b)
ROUNDED(double, __moe_emu_mul_rm_d(double a, double b), FE_DOWNWARD, a *b)
ROUNDED(double, __moe_emu_mul_rp_d(double a, double b), FE_UPWARD, a *b)
ROUNDED(double, __moe_emu_mul_rz_d(double a, double b), FE_TOWARDZERO, a *b)

float __moe_emu_add_rn_f(float a, float b) { return a + b; }
float __moe_emu_add_rn_ftz_f(float a, float b) { return ftz(ftz(a) + ftz(b)); }
double __moe_emu_add_rn_d(double a, double b) { return a + b; }
float __moe_emu_mul_rn_f(float a, float b) { return a * b; }
float __moe_emu_mul_rn_ftz_f(float a, float b) { return ftz(ftz(a) * ftz(b)); }
double __moe_emu_mul_rn_d(double a, double b) { return a * b; }
double __moe_emu_div_rn_d(double a, double b) { return a / b; }
double __moe_emu_sqrt_rn_d(double x) { return sqrt(x); }
/* Rounding to integers: round is half away from zero (libdevice's
 * roundf), rni half to even. */
float __moe_emu_round_f(float x) { return roundf(x); }
float __moe_emu_round_ftz_f(float x) { return roundf(ftz(x)); }
double __moe_emu_round_d(double x) { return round(x); }
float __moe_emu_trunc_f(float x) { return truncf(x); }
float __moe_emu_trunc_ftz_f(float x) { return truncf(ftz(x)); }
double __moe_emu_trunc_d(double x) { return trunc(x); }
float __moe_emu_floor_f(float x) { return floorf(x); }
float __moe_emu_floor_ftz_f(float x) { return floorf(ftz(x)); }
double __moe_emu_floor_d(double x) { return floor(x); }
float __moe_emu_ceil_f(float x) { return ceilf(x); }
float __moe_emu_ceil_ftz_f(float x) { return ceilf(ftz(x)); }
double __moe_emu_ceil_d(double x) { return ceil(x); }
float __moe_emu_rint_f(float x) { return rintf(x); }
double __moe_emu_rint_d(double x) { return rint(x); }

/* Conversions with an explicit rounding mode (cvt.rni and friends): out of
 * range values saturate, NaN becomes 0, as PTX specifies. */
#define CONVERT(name, From, To, lo, hi, mode)                                  \
  To name(From x) {                                                            \
    if (x != x)                                                                \
      return 0;                                                                \
    int saved = fegetround();                                                  \
    fesetround(mode);                                                          \
    volatile From r = nearbyint((double)x);                                    \
    fesetround(saved);                                                         \
    return r <= (From)(lo) ? (To)(lo) : r >= (From)(hi) ? (To)(hi) : (To)r;    \
  }
#define CONVERTS(prefix, From, To, lo, hi)                                     \
  CONVERT(prefix##_rn, From, To, lo, hi, FE_TONEAREST)                         \
  CONVERT(prefix##_rz, From, To, lo, hi, FE_TOWARDZERO)                        \
  CONVERT(prefix##_rm, From, To, lo, hi, FE_DOWNWARD)                          \
  CONVERT(prefix##_rp, From, To, lo, hi, FE_UPWARD)
CONVERTS(__moe_emu_f2i, float, int32_t, INT32_MIN, INT32_MAX)
CONVERTS(__moe_emu_f2ui, float, uint32_t, 0, UINT32_MAX)
CONVERTS(__moe_emu_d2i, double, int32_t, INT32_MIN, INT32_MAX)
CONVERTS(__moe_emu_d2ui, double, uint32_t, 0, UINT32_MAX)
CONVERTS(__moe_emu_f2ll, float, int64_t, INT64_MIN, INT64_MAX)
CONVERTS(__moe_emu_d2ll, double, int64_t, INT64_MIN, INT64_MAX)

/* libdevice's inline "mad.lo.cc.u32 $0, $2, $3, $4; madc.hi.u32 $1, $2, $3,
 * 0": the 64-bit a * b + c as {low, high}. */
void __moe_emu_asm_mad_wide_u32(void *result, const void *args) {
  uint32_t in[3];
  memcpy(in, args, sizeof(in));
  uint64_t r = (uint64_t)in[0] * in[1] + in[2];
  uint32_t out[2] = {(uint32_t)r, (uint32_t)(r >> 32)};
  memcpy(result, out, sizeof(out));
}

float __moe_emu_fma_rn_ftz_f(float a, float b, float c) {
  return ftz(fmaf(ftz(a), ftz(b), ftz(c)));
}
float __moe_emu_ex2_approx_ftz_f32(float x) { return ftz(exp2f(ftz(x))); }
float __moe_emu_ex2_approx_f32(float x) { return exp2f(x); }
float __moe_emu_ex2_approx_ftz_f(float x) { return ftz(exp2f(ftz(x))); }
float __moe_emu_ex2_approx_f(float x) { return exp2f(x); }
double __moe_emu_ex2_approx_d(double x) { return exp2(x); }
float __moe_emu_lg2_approx_ftz_f(float x) { return ftz(log2f(ftz(x))); }
float __moe_emu_lg2_approx_f(float x) { return log2f(x); }
double __moe_emu_lg2_approx_d(double x) { return log2(x); }
float __moe_emu_sin_approx_ftz_f(float x) { return ftz(sinf(ftz(x))); }
float __moe_emu_sin_approx_f(float x) { return sinf(x); }
float __moe_emu_cos_approx_ftz_f(float x) { return ftz(cosf(ftz(x))); }
float __moe_emu_cos_approx_f(float x) { return cosf(x); }
float __moe_emu_rcp_approx_ftz_f(float x) { return ftz(1.0f / ftz(x)); }
double __moe_emu_rcp_approx_ftz_d(double x) { return 1.0 / x; }
float __moe_emu_rcp_rn_f(float x) { return 1.0f / x; }
float __moe_emu_rcp_rn_ftz_f(float x) { return ftz(1.0f / ftz(x)); }
double __moe_emu_rcp_rn_d(double x) { return 1.0 / x; }
float __moe_emu_rsqrt_approx_ftz_f(float x) {
  return ftz(1.0f / sqrtf(ftz(x)));
}
float __moe_emu_rsqrt_approx_f(float x) { return 1.0f / sqrtf(x); }
double __moe_emu_rsqrt_approx_d(double x) { return 1.0 / sqrt(x); }
float __moe_emu_sqrt_rn_f(float x) { return sqrtf(x); }
float __moe_emu_sqrt_approx_f(float x) { return sqrtf(x); }
float __moe_emu_sqrt_approx_ftz_f(float x) { return ftz(sqrtf(ftz(x))); }
float __moe_emu_div_rn_f(float a, float b) { return a / b; }
float __moe_emu_div_approx_f(float a, float b) { return a / b; }
float __moe_emu_div_approx_ftz_f(float a, float b) {
  return ftz(ftz(a) / ftz(b));
}
float __moe_emu_div_full_f(float a, float b) { return a / b; }
float __moe_emu_div_full_ftz_f(float a, float b) {
  return ftz(ftz(a) / ftz(b));
}
float __moe_emu_saturate_f(float x) {
  return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; /* NaN -> 0 */
}
float __moe_emu_saturate_ftz_f(float x) { return __moe_emu_saturate_f(ftz(x)); }
double __moe_emu_saturate_d(double x) {
  return x > 0.0 ? (x < 1.0 ? x : 1.0) : 0.0;
}
float __moe_emu_fmax_f(float a, float b) { return fmaxf(a, b); }
float __moe_emu_fmin_f(float a, float b) { return fminf(a, b); }
float __moe_emu_fmax_ftz_f(float a, float b) {
  return ftz(fmaxf(ftz(a), ftz(b)));
}
float __moe_emu_fmin_ftz_f(float a, float b) {
  return ftz(fminf(ftz(a), ftz(b)));
}
double __moe_emu_fmax_d(double a, double b) { return fmax(a, b); }
double __moe_emu_fmin_d(double a, double b) { return fmin(a, b); }
float __moe_emu_fabs_f(float x) { return fabsf(x); }
float __moe_emu_fabs_f32(float x) { return fabsf(x); }
double __moe_emu_fabs_f64(double x) { return fabs(x); }
float __moe_emu_tanh_approx_f(float x) { return tanhf(x); }
float __moe_emu_fabs_ftz_f(float x) { return ftz(fabsf(x)); }

/* cvt.rna.tf32.f32: round to 10 mantissa bits, ties away from zero. */
int32_t __moe_emu_f2tf32_rna(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof(bits));
  if ((bits & 0x7f800000u) != 0x7f800000u)
    bits += 0x1000u;
  return (int32_t)(bits & 0xffffe000u);
}

/* The host's libgcc has no float -> bfloat16 conversion before GCC 13; the
 * image's bf16 truncations call this one (round to nearest even). The
 * result travels in the low 16 bits of xmm0, as the x86-64 ABI passes
 * __bf16, hence the float return type. */
float __truncsfbf2(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    bits = (bits >> 16) | 0x40;
  else
    bits = (bits + 0x7fffu + ((bits >> 16) & 1)) >> 16;
  float r;
  memcpy(&r, &bits, sizeof(r));
  return r;
}
