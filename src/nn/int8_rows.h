// The row passes of int8 scoring (nn/matmul.h): a row's largest |value| and scale, its quantisation to int8, and
// the scaling of an integer product back to f32, each compiled for every vector width (common/hot_loop.h). Rows
// are contiguous floats. (The clones are made where they are defined; a declaration naming them would make every
// including file emit a resolver of its own.)
//
//   const float scale = RowScale(AbsMaxRow(x, n));           // NaN when x holds a NaN or an infinity
//   if (!std::isnan(scale)) QuantiseRow(x, q, n, 1.f / scale);
//   RescaleRow(product, scale, w_scales, bias, y, n, /*accumulate=*/false, /*relu=*/true);
#pragma once

#include <cstdint>

namespace mtrec {

// The largest |x| of a row; NaN when the row holds a NaN or an infinity.
float AbsMaxRow(const float* __restrict x, int64_t n);

// A row's scale from its largest |value|: that / 127; 1 for a row of zeros (or of values too small to divide by);
// NaN for NaN (the row's products then come out NaN).
float RowScale(float largest);

// q = x · inverse_scale rounded to the nearest integer, ties to even, within [-127, 127]; x finite.
void QuantiseRow(const float* __restrict x, int8_t* __restrict q, int64_t n, float inverse_scale);

// y = (y +) a_scale · b_scales · product (+ bias), then max(0, ·) when relu.
void RescaleRow(const float* __restrict product, float a_scale, const float* __restrict b_scales,
                const float* __restrict bias, float* __restrict y, int64_t n, bool accumulate, bool relu);

}  // namespace mtrec
