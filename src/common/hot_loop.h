// MTREC_HOT_LOOP: compile a function three times, for AVX-512 (x86-64-v4), AVX2 (x86-64-v3) and the baseline
// x86-64, and let the loader pick the one the CPU runs (GCC function multiversioning through an ifunc). The
// binary stays portable (no -march), and the elementwise loops of training (optimizer steps, dropout, ReLU,
// batch norm) get the wide vectors the matmuls already get from oneDNN's own dispatch. The call goes through a
// pointer, so mark a function that loops over a row or a range, never one called per element.
//
//   MTREC_HOT_LOOP void ScaleRow(float* __restrict y, const float* __restrict x, int64_t n, float s);
//
// The project builds with -ffp-contract=off, so the three versions round alike: no version fuses a·b + c into an
// FMA where another would not, and these loops give the same numbers on any CPU (oneDNN's matmuls may not).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(MTREC_NO_CLONES) && \
    !defined(__SANITIZE_ADDRESS__)
#define MTREC_HOT_LOOP __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MTREC_HOT_LOOP
#endif
