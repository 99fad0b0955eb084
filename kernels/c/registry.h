/* The table of every compiled point of the sweep, for native programs (the CMake benchmark and
 * the ctest suite) that link many variants of the kernels together.
 *
 * Include it with REAL and UK_DTYPE (f32 or f64) defined and UK_REGISTRY naming a generated file
 * of lines UK_ENTRY(kernel, variant, factor); each line's objects were compiled with
 * -DUK_SYMBOL_SUFFIX=_<variant>_<dtype>_u<factor> (see unroll.h and CMakeLists.txt). One program
 * holds one element type, so that the same code serves float and double without copies. */
#ifndef UNROLLKIT_REGISTRY_H
#define UNROLLKIT_REGISTRY_H

#include <stddef.h>

#ifndef REAL
#error "define REAL (float or double) and UK_DTYPE (f32 or f64)"
#endif
typedef REAL real;

#define UK_CAT_(a, b) a##b
#define UK_CAT(a, b) UK_CAT_(a, b)
#define UK_STR_(x) #x
#define UK_STR(x) UK_STR_(x)
/* uk_mac_pragma_f32_u4, uk_mac_time_pragma_f32_u4: the names unroll.h's UK_FN gives them */
#define UK_SYM(fn, variant, factor) UK_CAT(UK_CAT(fn##_##variant##_, UK_DTYPE), _u##factor)

/* mac and dot share a signature: two vectors in, one array updated in place */
typedef void uk_vector_kernel(const real *, const real *, real *, long n);
typedef double uk_vector_timer(const real *, const real *, real *, long n, long reps);
typedef void uk_gemm_kernel(const real *A, const real *B, real *C, long M, long N, long K);
typedef double uk_gemm_timer(const real *A, const real *B, real *C, long M, long N, long K,
                             long reps);

struct uk_entry {
    const char *kernel, *variant;
    int factor;
    uk_vector_kernel *vector;  /* mac, dot */
    uk_vector_timer *vector_time;
    uk_gemm_kernel *gemm;      /* gemm */
    uk_gemm_timer *gemm_time;
};

#define UK_DECLARE_mac(v, f) uk_vector_kernel UK_SYM(uk_mac, v, f); \
    uk_vector_timer UK_SYM(uk_mac_time, v, f);
#define UK_DECLARE_dot(v, f) uk_vector_kernel UK_SYM(uk_dot, v, f); \
    uk_vector_timer UK_SYM(uk_dot_time, v, f);
#define UK_DECLARE_gemm(v, f) uk_gemm_kernel UK_SYM(uk_gemm, v, f); \
    uk_gemm_timer UK_SYM(uk_gemm_time, v, f);
#define UK_ENTRY(kernel, variant, factor) UK_DECLARE_##kernel(variant, factor)
#include UK_REGISTRY
#undef UK_ENTRY

#define UK_ROW_mac(v, f) {"mac", #v, f, UK_SYM(uk_mac, v, f), UK_SYM(uk_mac_time, v, f), NULL, NULL},
#define UK_ROW_dot(v, f) {"dot", #v, f, UK_SYM(uk_dot, v, f), UK_SYM(uk_dot_time, v, f), NULL, NULL},
#define UK_ROW_gemm(v, f) {"gemm", #v, f, NULL, NULL, UK_SYM(uk_gemm, v, f), UK_SYM(uk_gemm_time, v, f)},
#define UK_ENTRY(kernel, variant, factor) UK_ROW_##kernel(variant, factor)
static const struct uk_entry uk_entries[] = {
#include UK_REGISTRY
};
#undef UK_ENTRY
static const size_t uk_entry_count = sizeof uk_entries / sizeof uk_entries[0];

#endif /* UNROLLKIT_REGISTRY_H */
