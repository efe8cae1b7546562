// libFuzzer target: loading a model file (LoadModelFromBytes: the section container, the config TOML, the fitted
// feature state, the weights, the training history JSON and a checkpoint's trainer state). The only acceptable
// failure is mtrec::Error; any other exception, a crash, a sanitizer report, a leak or an allocation beyond
// libFuzzer's memory limit is a finding.
//
// Built twice from this file:
//   model_loader_fuzzer    libFuzzer's own mutations of the raw bytes: mostly exercises the container (magic,
//                          version, section table, checksums), since a mutated section fails its CRC-32.
//   model_sections_fuzzer  (MTREC_FUZZ_SECTIONS) a custom mutator that mutates one section's contents, drops or
//                          renames sections, or takes a section from another input, then writes a valid container
//                          again (offsets and checksums recomputed), so that every section parser sees the
//                          mutated bytes. Its inputs stay model files: a finding reproduces with either binary and
//                          with `mtrec inspect`.
//
//   build-fuzz/tests/fuzz/model_sections_fuzzer -dict=tests/fuzz/model.dict CORPUS_DIR build-fuzz/fuzz-seeds/model
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "common/error.h"
#include "common/threads.h"
#include "io/model_file.h"
#include "io/model_io.h"

#ifdef MTREC_FUZZ_SECTIONS
#include <cstring>
#include <random>
#include <utility>
#include <vector>
#endif

namespace {

constexpr int64_t kMaxBatch = 4;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mtrec::SetThreads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // Both ways a file is loaded: copying its tables, and (serve) reading them where they lie in its bytes.
    for (const bool in_place : {false, true}) {
      mtrec::LoadedModel loaded = mtrec::LoadModelFromBytes(std::string(reinterpret_cast<const char*>(data), size),
                                                            "fuzz.mtrec", kMaxBatch, in_place);
      if (!loaded.model || !loaded.pipeline || loaded.model->max_batch() != kMaxBatch) {
        std::fprintf(stderr, "FINDING: a loaded model without its parts or with the wrong batch size\n");
        std::abort();
      }
    }
  } catch (const mtrec::Error&) {
    // A refused file: the expected outcome for almost every input.
  } catch (const std::exception& error) {
    std::fprintf(stderr, "FINDING: %s exception that is not an mtrec::Error: %s\n", typeid(error).name(), error.what());
    std::abort();
  }
  return 0;
}

#ifdef MTREC_FUZZ_SECTIONS

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using Sections = std::vector<std::pair<std::string, std::string>>;

// The sections of a valid container; false for anything SectionFile refuses (a seed that is already damaged).
bool Split(const uint8_t* data, size_t size, Sections* sections) {
  try {
    const mtrec::SectionFile file =
        mtrec::SectionFile::Parse(std::string(reinterpret_cast<const char*>(data), size), "input");
    sections->clear();
    for (const auto& [name, bytes] : file.sections()) sections->emplace_back(name, std::string(bytes));
    return true;
  } catch (const mtrec::Error&) {
    return false;
  }
}

// A valid container of `sections` written to `out`; 0 when it does not fit in max_size.
size_t Join(const Sections& sections, uint8_t* out, size_t max_size) {
  mtrec::SectionFile file;
  for (const auto& [name, bytes] : sections) file.Add(name, bytes);
  const std::string bytes = file.Serialize();
  if (bytes.size() > max_size) return 0;
  std::memcpy(out, bytes.data(), bytes.size());
  return bytes.size();
}

const char* const kSectionNames[] = {"meta", "config", "features", "weights", "history", "trainer", ""};

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::minstd_rand rng(seed);
  Sections sections;
  // One time in 16, and for inputs that are not valid containers: libFuzzer's mutations of the raw bytes.
  if (rng() % 16 == 0 || !Split(data, size, &sections) || sections.empty()) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  const size_t k = rng() % sections.size();
  const unsigned op = rng() % 32;
  if (op == 0) {
    sections.erase(sections.begin() + static_cast<std::ptrdiff_t>(k));
  } else if (op == 1) {
    sections[k].first = kSectionNames[rng() % (sizeof(kSectionNames) / sizeof(kSectionNames[0]))];
  } else if (op == 2) {
    sections.push_back(sections[k]);
  } else {
    std::string& bytes = sections[k].second;
    const size_t used = bytes.size();
    const size_t room = max_size > size + 8 ? max_size - size - 8 : 0;
    bytes.resize(used + room);
    // LLVMFuzzerMutate wants a non-empty buffer: an empty section grows from one byte.
    if (bytes.empty()) bytes.push_back('\0');
    const size_t n = LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(bytes.data()), used ? used : 1, bytes.size());
    bytes.resize(n);
  }
  const size_t joined = Join(sections, data, max_size);
  return joined ? joined : LLVMFuzzerMutate(data, size, max_size);
}

// Crossover at section level: one section of the first input replaced by the same-named section of the second,
// e.g. a config with another model's weights, or a byte-level crossover of the two sections' contents.
extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1, const uint8_t* data2, size_t size2,
                                            uint8_t* out, size_t max_out_size, unsigned int seed) {
  std::minstd_rand rng(seed);
  Sections first, second;
  if (!Split(data1, size1, &first) || !Split(data2, size2, &second) || first.empty() || second.empty()) return 0;
  const size_t k = rng() % first.size();
  for (const auto& [name, bytes] : second) {
    if (name == first[k].first) {
      first[k].second = bytes;
      break;
    }
  }
  return Join(first, out, max_out_size);
}

#endif  // MTREC_FUZZ_SECTIONS
