// `btvmm mkimage`: writes a disk.img (format in disk_image.h and README.md).
#pragma once

#include "host/options.h"

namespace btvmm::host {

int mkimage_command(const MkimageOptions& options);

}  // namespace btvmm::host
