#include "nn/matmul_bound.h"

#include <atomic>
#include <chrono>
#include <dnnl.hpp>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "common/error.h"
#include "nn/dnnl_context.h"

namespace mtrec {
namespace {

std::atomic<bool> recording{false};
std::mutex recording_mutex;  // scorers side by side may record at once
std::vector<MatmulShape>& Recorded() {
  static std::vector<MatmulShape> shapes;
  return shapes;
}

// The fastest of repeated runs of one shape: row-major A and C, B reordered once into the primitive's preferred
// layout, operands in `precision` and C in f32 (as the layers accumulate).
double BestSeconds(const MatmulShape& shape, Precision precision, double seconds) {
  using dnnl::memory;
  const memory::data_type in = precision == Precision::kBf16   ? memory::data_type::bf16
                               : precision == Precision::kInt8 ? memory::data_type::s8
                                                               : memory::data_type::f32;
  const bool grouped = shape.groups > 1;
  const memory::dims a_dims = grouped ? memory::dims{shape.groups, shape.m, shape.k} : memory::dims{shape.m, shape.k};
  const memory::dims b_dims = grouped ? memory::dims{shape.groups, shape.k, shape.n} : memory::dims{shape.k, shape.n};
  const memory::dims c_dims = grouped ? memory::dims{shape.groups, shape.m, shape.n} : memory::dims{shape.m, shape.n};
  const memory::format_tag plain = grouped ? memory::format_tag::abc : memory::format_tag::ab;
  const dnnl::engine& engine = DnnlEngine();
  dnnl::stream& stream = DnnlStream();
  const memory::desc a(a_dims, in, plain), b(b_dims, in, memory::format_tag::any),
      c(c_dims, memory::data_type::f32, plain);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), engine);
  const dnnl::matmul matmul(pd);
  memory a_mem(a, engine), b_mem(pd.weights_desc(), engine), c_mem(c, engine);
  // Ordinary numbers in (0, 1], written as f32 and reordered into each operand's type and layout: no NaN, infinity
  // or denormal that could change a kernel's speed.
  for (memory* operand : {&a_mem, &b_mem}) {
    const memory::dims& dims = operand->get_desc().dims();
    memory values({dims, memory::data_type::f32, plain}, engine);
    auto* data = static_cast<float*>(values.get_data_handle());
    const size_t count = values.get_desc().get_size() / sizeof(float);
    for (size_t i = 0; i < count; ++i) data[i] = static_cast<float>(i % 7 + 1) / 8.f;
    dnnl::reorder(values, *operand).execute(stream, values, *operand);
  }
  stream.wait();
  const std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}};
  using Clock = std::chrono::steady_clock;
  matmul.execute(stream, args);  // warm-up: first-touch of the buffers and the kernel's code
  stream.wait();
  double best = 1e30, total = 0;
  int runs = 0;
  while (runs < 3 || total < seconds) {
    const auto start = Clock::now();
    matmul.execute(stream, args);
    stream.wait();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::min(best, elapsed);
    total += elapsed;
    ++runs;
  }
  return best;
}

}  // namespace

void StartRecordingMatmuls() {
  std::lock_guard<std::mutex> lock(recording_mutex);
  Recorded().clear();
  recording.store(true);
}

std::vector<MatmulShape> StopRecordingMatmuls() {
  std::lock_guard<std::mutex> lock(recording_mutex);
  recording.store(false);
  std::vector<MatmulShape> shapes = std::move(Recorded());
  Recorded().clear();  // a moved-from vector is only valid, not empty
  return shapes;
}

bool RecordingMatmuls() { return recording.load(std::memory_order_relaxed); }

void NoteMatmul(const MatmulShape& shape) {
  if (!RecordingMatmuls()) return;  // the common case, without the lock
  std::lock_guard<std::mutex> lock(recording_mutex);
  if (recording.load(std::memory_order_relaxed)) Recorded().push_back(shape);
}

MatmulBound MeasureMatmulBound(const std::vector<MatmulShape>& shapes, Precision precision, double seconds_per_shape) {
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, double> best;
  MatmulBound bound;
  for (const MatmulShape& shape : shapes) {
    const auto key = std::make_tuple(shape.groups, shape.m, shape.k, shape.n);
    auto it = best.find(key);
    if (it == best.end()) {
      try {
        it = best.emplace(key, BestSeconds(shape, precision, seconds_per_shape)).first;
      } catch (const dnnl::error& e) {
        Fail("oneDNN could not time a {} matmul of {}x{}x{} (x{} groups): {}", precision, shape.m, shape.k, shape.n,
             shape.groups, e.what());
      }
    }
    bound.flops += shape.Flops();
    bound.seconds += it->second;
  }
  return bound;
}

}  // namespace mtrec
