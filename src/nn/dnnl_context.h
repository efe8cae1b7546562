// The oneDNN objects shared by every layer: one CPU engine for the process, created on first use, and the
// stream that the calling thread executes primitives on.
//
//   dnnl::matmul::primitive_desc pd(desc, DnnlEngine());
//   dnnl::matmul(pd).execute(DnnlStream(), args);
#pragma once

#include <dnnl.hpp>

namespace mtrec {

// The CPU engine; thread-safe to call. oneDNN threads through the same OpenMP runtime as ParallelFor, so
// SetThreads() governs its parallelism too.
const dnnl::engine& DnnlEngine();

// An in-order stream on DnnlEngine(), one per calling thread: oneDNN does not allow one stream to be used by
// several threads at once, and a per-thread stream costs nothing on the CPU.
dnnl::stream& DnnlStream();

}  // namespace mtrec
