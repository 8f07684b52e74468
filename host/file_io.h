// Whole-file reads and atomic writes with errors that name the file and the failing call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/exit_codes.h"

namespace btvmm::host {

// Reads a whole file; on failure throws Error(code) "path: reason" (code says whose fault it is).
std::vector<uint8_t> read_file(const std::string& path, ExitCode code, const char* what);
// Writes path.tmp then renames it over path, so a failed write never leaves a half image.
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace btvmm::host
