/* The few string and memory helpers the freestanding kernel needs. */
#ifndef GUEST_KSTRING_H
#define GUEST_KSTRING_H
#include <stddef.h>
#include <stdint.h>
int kstrcmp(const char *a, const char *b);
int kmemcmp(const void *a, const void *b, size_t n);
void *kmemcpy(void *d, const void *s, size_t n);
void *kmemset(void *d, int c, size_t n);
size_t kstrlen(const char *s);
/* gcc may emit calls to these even with -ffreestanding (GCC manual, "Standards"). */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
#endif
