#include "runtime/seal.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace adc::rt {
namespace {

constexpr char kMagic[8] = {'a', 'd', 'c', 's', 'e', 'a', 'l', '\0'};
constexpr uint32_t kVersion = 1;

struct Seal {
  uint32_t version = 0;
  uint32_t crc = 0;
  uint64_t length = 0;
};

uint64_t LoadLittle(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

void StoreLittle(uint64_t v, int bytes, unsigned char* p) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(v >> 8 * i);
}

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

File Open(const std::string& path, const char* mode) {
  return File(std::fopen(path.c_str(), mode), &std::fclose);
}

// The seal at the end of a file of `size` bytes, if its magic is there.
bool ReadSeal(std::FILE* file, uint64_t size, Seal* seal) {
  unsigned char raw[kSealSize];
  if (size < kSealSize ||
      std::fseek(file, static_cast<long>(size - kSealSize), SEEK_SET) != 0 ||
      std::fread(raw, 1, kSealSize, file) != kSealSize ||
      std::memcmp(raw, kMagic, sizeof(kMagic)) != 0) {
    return false;
  }
  seal->version = static_cast<uint32_t>(LoadLittle(raw + 8, 4));
  seal->crc = static_cast<uint32_t>(LoadLittle(raw + 12, 4));
  seal->length = LoadLittle(raw + 16, 8);
  return true;
}

// CRC-32 of the first `length` bytes; false if they cannot be read.
bool Crc(std::FILE* file, uint64_t length, uint32_t* crc) {
  if (std::fseek(file, 0, SEEK_SET) != 0) return false;
  std::vector<unsigned char> chunk(1 << 20);
  uLong value = crc32_z(0, Z_NULL, 0);
  while (length > 0) {
    const size_t want = length < chunk.size() ? length : chunk.size();
    if (std::fread(chunk.data(), 1, want, file) != want) return false;
    value = crc32_z(value, chunk.data(), want);
    length -= want;
  }
  *crc = static_cast<uint32_t>(value);
  return true;
}

std::string Hex(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", v);
  return text;
}

}  // namespace

Status SealArtifact(const std::string& path) {
  const std::string where = "cannot seal '" + path + "': ";
  File file = Open(path, "r+b");
  if (file == nullptr) return Status::Error(where + std::strerror(errno));
  if (std::fseek(file.get(), 0, SEEK_END) != 0) {
    return Status::Error(where + "cannot seek");
  }
  const long end = std::ftell(file.get());
  if (end < 0) return Status::Error(where + "cannot tell its size");
  uint64_t length = static_cast<uint64_t>(end);
  Seal old;
  if (ReadSeal(file.get(), length, &old) && old.length == length - kSealSize) {
    length = old.length;  // Sealed already: seal the same bytes again.
  }
  uint32_t crc = 0;
  if (!Crc(file.get(), length, &crc)) {
    return Status::Error(where + "cannot read it");
  }
  unsigned char raw[kSealSize];
  std::memcpy(raw, kMagic, sizeof(kMagic));
  StoreLittle(kVersion, 4, raw + 8);
  StoreLittle(crc, 4, raw + 12);
  StoreLittle(length, 8, raw + 16);
  if (std::fseek(file.get(), static_cast<long>(length), SEEK_SET) != 0 ||
      std::fwrite(raw, 1, kSealSize, file.get()) != kSealSize ||
      std::fflush(file.get()) != 0) {
    return Status::Error(where + "cannot write the seal");
  }
  return Status::Ok();
}

Status CheckSeal(const std::string& path, uint64_t file_size,
                 const std::string& where) {
  File file = Open(path, "rb");
  if (file == nullptr) {
    return Status::Error(where + "cannot open it (" + std::strerror(errno) +
                         ")");
  }
  Seal seal;
  if (!ReadSeal(file.get(), file_size, &seal)) {
    return Status::Error(
        where +
        "no adc seal (checksum) at its end: the file was cut short or "
        "appended to after `adc compile`, or another tool made it (seal a "
        "hand-built artifact with runtime:adc_seal)");
  }
  if (seal.version != kVersion) {
    return Status::Error(
        where + "seal version " + std::to_string(seal.version) +
        ", this runtime reads version " + std::to_string(kVersion));
  }
  if (seal.length != file_size - kSealSize) {
    return Status::Error(where + "the seal covers " +
                         std::to_string(seal.length) + " bytes but " +
                         std::to_string(file_size - kSealSize) +
                         " precede it: the file was changed after "
                         "`adc compile`; recompile it");
  }
  uint32_t crc = 0;
  if (!Crc(file.get(), seal.length, &crc)) {
    return Status::Error(where + "cannot read the file");
  }
  if (crc != seal.crc) {
    return Status::Error(where +
                         "checksum mismatch: the contents have CRC-32 " +
                         Hex(crc) + ", the seal says " + Hex(seal.crc) +
                         ": the file was corrupted or edited after "
                         "`adc compile`; recompile it");
  }
  return Status::Ok();
}

}  // namespace adc::rt
