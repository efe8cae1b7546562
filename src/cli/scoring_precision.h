// The --precision option of the commands that score a model (serve, predict, bench serve): one name and one help
// text for all three; the CPU is checked when the command runs (SetMatmulPrecision).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "common/names.h"

namespace mtrec {

inline void AddScoringPrecisionOption(CLI::App* command, std::string* precision) {
  command
      ->add_option("--precision", *precision,
                   "Matmul precision of scoring: f32, bf16 where the CPU has avx512_bf16 or AMX, or int8 where it has "
                   "VNNI or AMX-INT8 (scores then differ from f32's by the rounding of the operands; docs/serving.md)")
      ->check(CLI::IsMember(Names<Precision>()))
      ->capture_default_str();
}

}  // namespace mtrec
