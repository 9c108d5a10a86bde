// The seal of an artifact file: a checksum that `adc compile` appends after
// the ELF image, so that the runtime refuses a file changed since (a flipped
// bit in code, signature or stored parameters; a cut or extended file)
// before dlopen runs any of it. The dynamic loader maps only the segments
// the ELF headers name, so the bytes after them are never loaded.
//
// Layout: the last kSealSize bytes of the file, little-endian:
//   0..7    "adcseal" and a NUL
//   8..11   seal version (1)
//   12..15  CRC-32 (zlib's crc32) of every byte before the seal
//   16..23  the number of bytes before the seal
#ifndef ADC_RUNTIME_SEAL_H_
#define ADC_RUNTIME_SEAL_H_

#include <cstdint>
#include <string>

#include "runtime/module.h"

namespace adc::rt {

inline constexpr uint64_t kSealSize = 24;

// Appends a seal to the file at `path`. A file that already ends with a seal
// is sealed again over the bytes before it (after an intended change).
Status SealArtifact(const std::string& path);

// OK if the file at `path`, of `file_size` bytes, ends with a seal that
// matches its contents. Errors start with `where` and say what differs.
Status CheckSeal(const std::string& path, uint64_t file_size,
                 const std::string& where);

}  // namespace adc::rt

#endif  // ADC_RUNTIME_SEAL_H_
