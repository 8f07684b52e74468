/* Finds user programs linked into the kernel and turns their ELF32 program headers (System V
 * ABI, ELF header and PT_LOAD segments) into a layout that page faults fill pages from.
 * Never writes to an image and never maps anything itself. */
#include "elf.h"

#include <stdint.h>

#include "../common/abi.h"
#include "kstring.h"

struct image_entry {
  const char *name;
  const uint8_t *start, *end;
};
extern const struct image_entry user_images[];

struct elf32_ehdr {
  uint8_t ident[16];
  uint16_t type, machine;
  uint32_t version, entry, phoff, shoff, flags;
  uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf32_phdr {
  uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
};
#define PT_LOAD 1
#define PF_W 2

int elf_layout(const char *name, struct user_image_layout *out) {
  const struct image_entry *e = user_images;
  while (e->name && kstrcmp(e->name, name) != 0) e++;
  if (!e->name) return -1;
  uint32_t size = (uint32_t)(e->end - e->start);
  const struct elf32_ehdr *eh = (const void *)e->start;
  if (size < sizeof *eh || kmemcmp(eh->ident, "\177ELF", 4) != 0 || eh->ident[4] != 1 || eh->type != 2 ||
      eh->machine != 3 || eh->phentsize != sizeof(struct elf32_phdr) ||
      eh->phoff + (uint32_t)eh->phnum * sizeof(struct elf32_phdr) > size)
    return -1;
  out->entry = eh->entry;
  out->end = 0;
  out->nsegs = 0;
  const struct elf32_phdr *ph = (const void *)(e->start + eh->phoff);
  for (int i = 0; i < eh->phnum; i++) {
    if (ph[i].type != PT_LOAD || ph[i].memsz == 0) continue;
    if (out->nsegs == MAX_SEGMENTS || ph[i].offset + ph[i].filesz > size || ph[i].filesz > ph[i].memsz ||
        ph[i].vaddr < 0x1000u || ph[i].vaddr + ph[i].memsz > USER_HEAP_MAX)
      return -1;
    struct user_segment *s = &out->seg[out->nsegs++];
    s->vaddr = ph[i].vaddr;
    s->memsz = ph[i].memsz;
    s->filesz = ph[i].filesz;
    s->file = e->start + ph[i].offset;
    s->writable = (ph[i].flags & PF_W) != 0;
    if (s->vaddr + s->memsz > out->end) out->end = s->vaddr + s->memsz;
  }
  return out->nsegs ? 0 : -1;
}

int elf_fill_page(const struct user_image_layout *l, uint32_t va, uint8_t *page, int *writable) {
  int found = 0;
  *writable = 0;
  for (int i = 0; i < l->nsegs; i++) {
    const struct user_segment *s = &l->seg[i];
    if (va + 4096 <= s->vaddr || va >= s->vaddr + s->memsz) continue;
    found = 1;
    *writable |= s->writable;
    /* Copy the part of [vaddr, vaddr + filesz) that falls inside this page. */
    uint32_t lo = va > s->vaddr ? va : s->vaddr;
    uint32_t hi = va + 4096 < s->vaddr + s->filesz ? va + 4096 : s->vaddr + s->filesz;
    if (lo < hi) kmemcpy(page + (lo - va), s->file + (lo - s->vaddr), hi - lo);
  }
  return found;
}
