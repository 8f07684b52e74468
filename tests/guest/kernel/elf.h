/* User program images: ELF32 executables linked into the kernel (user_images.S), parsed once
 * into a layout; pages are filled on demand from the image. Never writes to an image. */
#ifndef GUEST_ELF_H
#define GUEST_ELF_H
#include <stdint.h>

#define MAX_SEGMENTS 4

struct user_segment {
  uint32_t vaddr, memsz, filesz;
  const uint8_t *file; /* bytes of this segment inside the embedded image */
  int writable;
};

struct user_image_layout {
  uint32_t entry;
  uint32_t end; /* first address after the last segment: initial brk */
  int nsegs;
  struct user_segment seg[MAX_SEGMENTS];
};

/* Finds embedded program `name` and parses it; 0 on success, -1 if absent or malformed. */
int elf_layout(const char *name, struct user_image_layout *out);
/* Fills one page at `va` (page aligned) from the segments covering it; returns 1 if `va` is in a
 * segment, and sets *writable. The page must already be zeroed. */
int elf_fill_page(const struct user_image_layout *l, uint32_t va, uint8_t *page, int *writable);

#endif
