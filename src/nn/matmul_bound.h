// The machine's matmul bound for a model's own shapes: the matmuls a step runs are recorded (Execute notes each
// one's shape while recording is on), then each shape is timed alone at its best — A row-major, B already in
// the layout oneDNN prefers, nothing converted — so `mtrec bench` can say what fraction of that bound a whole
// training step or scoring call reaches, on whatever CPU it runs.
//
//   StartRecordingMatmuls();
//   trainer.Step(batch);
//   const std::vector<MatmulShape> shapes = StopRecordingMatmuls();
//   const MatmulBound bound = MeasureMatmulBound(shapes, Precision::kF32, /*seconds_per_shape=*/0.2);
//   fmt::print("fraction_of_bound: {:.2f}\n", bound.seconds / step_seconds);
#pragma once

#include <cstdint>
#include <vector>

#include "common/names.h"

namespace mtrec {

// groups independent products of (m × k) · (k × n); groups > 1 for grouped (batched) layers.
struct MatmulShape {
  int64_t groups = 1;
  int64_t m = 0;
  int64_t k = 0;
  int64_t n = 0;
  double Flops() const { return 2.0 * static_cast<double>(groups * m) * static_cast<double>(k * n); }
  bool operator==(const MatmulShape&) const = default;
};

// Recording is process-wide and meant for one thread's step at a time (the benchmark's).
void StartRecordingMatmuls();
std::vector<MatmulShape> StopRecordingMatmuls();
bool RecordingMatmuls();
void NoteMatmul(const MatmulShape& shape);  // called by the matmul plans while recording

struct MatmulBound {
  double flops = 0;    // of all the recorded matmuls together
  double seconds = 0;  // the sum of each one's best time alone
  double FlopsPerSecond() const { return seconds > 0 ? flops / seconds : 0; }
};

// Each distinct shape timed alone, repeated for about seconds_per_shape, its fastest run kept.
MatmulBound MeasureMatmulBound(const std::vector<MatmulShape>& shapes, Precision precision, double seconds_per_shape);

}  // namespace mtrec
