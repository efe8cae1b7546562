#include "data/input_file.h"

#include <fcntl.h>
#include <lzma.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string_view>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/threads.h"

namespace mtrec {
namespace {

enum class Compression { kNone, kGzip, kXz, kZstd };

bool StartsWith(std::string_view bytes, std::string_view magic) {
  return bytes.size() >= magic.size() && bytes.substr(0, magic.size()) == magic;
}

Compression Detect(const std::string& path, std::string_view bytes) {
  using namespace std::string_view_literals;
  if (StartsWith(bytes, "\x1f\x8b"sv)) return Compression::kGzip;
  if (StartsWith(bytes, "\xfd\x37\x7a\x58\x5a\x00"sv)) return Compression::kXz;  // "\xfd7zXZ\0"
  if (StartsWith(bytes, "\x28\xb5\x2f\xfd"sv)) return Compression::kZstd;
  // A zstd file may open with a skippable frame (0x184D2A50..5F, little endian), e.g. one holding metadata.
  if (bytes.size() >= 4 && (static_cast<unsigned char>(bytes[0]) & 0xf0) == 0x50 &&
      bytes.substr(1, 3) == "\x2a\x4d\x18"sv) {
    return Compression::kZstd;
  }
  // Formats we do not read: say so instead of handing binary bytes to the CSV parser, whose complaint about
  // "column counts" would hide the real cause. The bzip2 check includes the block magic so that a text file
  // starting with "BZh" is not mistaken for one.
  if (bytes.size() >= 10 && StartsWith(bytes, "BZh"sv) && bytes[3] >= '1' && bytes[3] <= '9' &&
      bytes.substr(4, 6) == "\x31\x41\x59\x26\x53\x59"sv) {
    Fail("'{}' is bzip2-compressed, which mtrec does not read; recompress it with gzip, xz or zstd", path);
  }
  if (StartsWith(bytes, "PK\x03\x04"sv)) {
    Fail("'{}' is a zip archive, which mtrec does not read; extract the file inside it first", path);
  }
  return Compression::kNone;
}

std::string ReadRaw(const std::string& path) {
  // O_NONBLOCK: a FIFO is looked at before anything waits on it.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) Fail("cannot open '{}': {}", path, std::strerror(errno));
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  struct stat st;
  if (::fstat(fd, &st) != 0) Fail("cannot read '{}': {}", path, std::strerror(errno));
  // Data may come as a stream (`--data <(zcat rows.csv.gz)` is a FIFO): read to its end, waiting for its writer.
  // A device or socket has no end to read to and is refused, as is a folder.
  const bool stream = S_ISFIFO(st.st_mode);
  if (stream) {
    LogInfo("'{}' is a FIFO: reading it as a stream to its end (no dataset cache)", path);
  } else if (!S_ISREG(st.st_mode)) {
    Fail("cannot read '{}': it is {}, not a data file", path, FileKindName(st.st_mode));
  }
  // The size from fstat is only a hint: pipes and /proc files report 0, and a file may grow while we read.
  std::string bytes;
  size_t used = 0;
  bytes.resize(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : size_t{1} << 16);
  while (true) {
    if (used == bytes.size()) bytes.resize(bytes.size() * 2);
    // On the non-blocking FIFO, poll waits for data or for the end of a writer that came after the open (a read
    // before any writer came would return 0, which is not the end).
    pollfd ready{fd, POLLIN, 0};
    if (stream && ::poll(&ready, 1, -1) < 0) {
      if (errno == EINTR) continue;
      Fail("cannot read '{}': {}", path, std::strerror(errno));
    }
    ssize_t n = ::read(fd, bytes.data() + used, bytes.size() - used);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      Fail("cannot read '{}': {}", path, std::strerror(errno));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  bytes.resize(used);
  return bytes;
}

// Growable destination for decoders that do not know the decompressed size up front. Doubling keeps the number
// of copies logarithmic; the final resize trims the slack.
class Output {
 public:
  Output(const std::string& path, size_t compressed_size) : path_(path) {
    Reserve(std::max<size_t>(size_t{1} << 16, compressed_size * 4));
  }

  // Free space after the decoded bytes, grown when none is left.
  char* Space() {
    if (used_ == bytes_.size()) Reserve(bytes_.size() * 2);
    return bytes_.data() + used_;
  }
  size_t SpaceSize() const { return bytes_.size() - used_; }
  void Advance(size_t n) { used_ += n; }
  size_t used() const { return used_; }

  std::string Finish() {
    bytes_.resize(used_);
    return std::move(bytes_);
  }

 private:
  void Reserve(size_t size) {
    try {
      bytes_.resize(size);
    } catch (const std::bad_alloc&) {
      Fail("'{}' is too large to decompress in memory (more than {} bytes)", path_, used_);
    }
  }

  const std::string& path_;
  std::string bytes_;
  size_t used_ = 0;
};

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

std::string Gunzip(const std::string& path, std::string_view src) {
  z_stream zs{};
  // 16 + MAX_WBITS: gzip wrapper only, so the header and the CRC-32/length trailer are checked.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) Fail("cannot start the gzip decoder for '{}'", path);
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  Output out(path, src.size());
  size_t in_pos = 0;
  while (true) {
    // zlib counts in uInt; hand over large buffers in pieces.
    const size_t in_size = std::min<size_t>(src.size() - in_pos, UINT_MAX);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(src.data() + in_pos));
    zs.avail_in = static_cast<uInt>(in_size);
    zs.next_out = reinterpret_cast<Bytef*>(out.Space());
    zs.avail_out = static_cast<uInt>(std::min<size_t>(out.SpaceSize(), UINT_MAX));
    const uInt out_size = zs.avail_out;
    int ret = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_size - zs.avail_in;
    out.Advance(out_size - zs.avail_out);
    if (ret == Z_STREAM_END) {
      std::string_view rest = src.substr(in_pos);
      // Some writers pad to a block size with zeros; gzip itself accepts that.
      if (rest.empty() || AllZero(rest)) break;
      if (!StartsWith(rest, "\x1f\x8b")) {
        Fail("'{}' is damaged: {} bytes that are not gzip data follow the end of the gzip data", path, rest.size());
      }
      inflateReset(&zs);  // the next member of a concatenated file
      continue;
    }
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR && in_pos == src.size()) Fail("'{}' is damaged: gzip data ends early", path);
    if (ret == Z_MEM_ERROR) Fail("out of memory while decompressing '{}'", path);
    Fail("'{}' is damaged: gzip data error ({})", path, zs.msg != nullptr ? zs.msg : "invalid data");
  }
  return out.Finish();
}

std::string Unxz(const std::string& path, std::string_view src) {
  lzma_stream strm = LZMA_STREAM_INIT;
  // LZMA_CONCATENATED: read every stream of `cat a.xz b.xz`, and the stream padding between them.
#if LZMA_VERSION >= 50040002
  // Files written by xz -T (the default since xz 5.4) hold independent blocks that decode in parallel.
  lzma_mt mt{};
  mt.flags = LZMA_CONCATENATED;
  mt.threads = static_cast<uint32_t>(std::max(Threads(), 1));
  mt.memlimit_threading = std::max<uint64_t>(lzma_physmem() / 4, uint64_t{1} << 28);
  mt.memlimit_stop = UINT64_MAX;
  lzma_ret ret = lzma_stream_decoder_mt(&strm, &mt);
#else
  lzma_ret ret = lzma_stream_decoder(&strm, UINT64_MAX, LZMA_CONCATENATED);
#endif
  if (ret != LZMA_OK) Fail("cannot start the xz decoder for '{}'", path);
  std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> guard(&strm, lzma_end);
  Output out(path, src.size());
  strm.next_in = reinterpret_cast<const uint8_t*>(src.data());
  strm.avail_in = src.size();
  while (true) {
    strm.next_out = reinterpret_cast<uint8_t*>(out.Space());
    strm.avail_out = out.SpaceSize();
    const size_t out_size = strm.avail_out;
    // LZMA_FINISH: all input is present, so running out of it means the file was cut short.
    ret = lzma_code(&strm, LZMA_FINISH);
    out.Advance(out_size - strm.avail_out);
    switch (ret) {
      case LZMA_OK:
        continue;
      case LZMA_STREAM_END:
        return out.Finish();
      case LZMA_BUF_ERROR:
        Fail("'{}' is damaged: xz data ends early", path);
      case LZMA_DATA_ERROR:
        Fail("'{}' is damaged: xz data is corrupt", path);
      case LZMA_FORMAT_ERROR:
        Fail("'{}' is damaged: data after the xz header is not in the xz format", path);
      case LZMA_OPTIONS_ERROR:
        Fail("'{}' uses xz options this build of liblzma does not support", path);
      case LZMA_MEM_ERROR:
      case LZMA_MEMLIMIT_ERROR:
        Fail("out of memory while decompressing '{}'", path);
      default:
        Fail("'{}' is damaged: xz decoder error {}", path, static_cast<int>(ret));
    }
  }
}

std::string Unzstd(const std::string& path, std::string_view src) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) Fail("cannot start the zstd decoder for '{}'", path);
  // Accept files written with --long (windows up to 2 GiB); the default limit refuses them.
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, ZSTD_dParam_getBounds(ZSTD_d_windowLogMax).upperBound);
  Output out(path, src.size());
  ZSTD_inBuffer in{src.data(), src.size(), 0};
  while (true) {
    ZSTD_outBuffer dst{out.Space(), out.SpaceSize(), 0};
    const size_t in_before = in.pos;
    // Returns 0 exactly when a frame is complete and flushed; the same context then starts the next frame of
    // a multi-frame file by itself.
    size_t ret = ZSTD_decompressStream(dctx.get(), &dst, &in);
    out.Advance(dst.pos);
    if (ZSTD_isError(ret)) Fail("'{}' is damaged: zstd data error ({})", path, ZSTD_getErrorName(ret));
    if (in.pos == in.size) {
      if (ret == 0) break;
      // Mid-frame with no input left: more output may still be buffered, but no progress means truncation.
      if (in.pos == in_before && dst.pos < dst.size) Fail("'{}' is damaged: zstd data ends early", path);
    }
  }
  return out.Finish();
}

// The decompressed text of `bytes` when they start with a compressed format's signature; nothing when they are
// plain text.
std::optional<std::string> Decompressed(const std::string& path, std::string_view bytes) {
  switch (Detect(path, bytes)) {
    case Compression::kGzip:
      return Gunzip(path, bytes);
    case Compression::kXz:
      return Unxz(path, bytes);
    case Compression::kZstd:
      return Unzstd(path, bytes);
    case Compression::kNone:
      break;
  }
  return std::nullopt;
}

}  // namespace

std::string ReadInput(const std::string& path) {
  std::string bytes = ReadRaw(path);
  if (std::optional<std::string> text = Decompressed(path, bytes)) return std::move(*text);
  return bytes;
}

InputText::InputText(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) Fail("cannot open '{}': {}", path, std::strerror(errno));
  struct stat st;
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
  void* p = regular ? ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (p == MAP_FAILED) {
    owned_ = ReadInput(path);
    view_ = owned_;
    return;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  std::shared_ptr<const void> mapping(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  const std::string_view bytes(static_cast<const char*>(p), size);
  if (std::optional<std::string> text = Decompressed(path, bytes)) {
    owned_ = std::move(*text);
    view_ = owned_;
    return;
  }
  mapping_ = std::move(mapping);
  view_ = bytes;
}

}  // namespace mtrec
