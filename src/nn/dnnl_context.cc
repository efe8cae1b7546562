#include "nn/dnnl_context.h"

namespace mtrec {

const dnnl::engine& DnnlEngine() {
  // A function-local static is initialised once even when several threads arrive together.
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& DnnlStream() {
  thread_local dnnl::stream stream(DnnlEngine());
  return stream;
}

}  // namespace mtrec
