// `mtrec train --follow DIR`: trains on the partition files of a folder as they appear, in name order, each once
// (train/streaming.h does the learning). After every partition the whole state is committed to the checkpoint
// (atomically: the partition is either in it or not); every stream.publish_every partitions (or
// stream.publish_minutes) the model is published to --out by atomic rename, which `mtrec serve` hot-reloads.
// Killed and restarted with the same command, it goes on after the last committed partition.
//
//   FollowOptions options{.dir = "stream/", .out = "model.mtrec", .checkpoint = "model.mtrec.ckpt"};
//   return FollowStream(config, options);
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace mtrec {

struct FollowOptions {
  std::string dir;
  std::string out;
  std::string checkpoint;
  std::string init_from;  // a warm start's base model; empty: from scratch
};

// The partition files of `dir` in name order: regular files whose names start with neither '.' nor '_' and end
// in none of .tmp, .part, .partial (a writer writes under such a name and renames when done).
std::vector<std::string> ListPartitions(const std::string& dir);

// Runs the stream until it is caught up and stream.wait_seconds have passed without a new partition; returns the
// exit code.
int FollowStream(const Config& config, const FollowOptions& options);

}  // namespace mtrec
