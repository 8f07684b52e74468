/* String and memory helpers for the freestanding kernel. No SSE and no alignment assumptions.
 * kmemcpy and kmemset use the string instructions as Linux's i386 memcpy and memset do (rep movsl
 * or stosl, then the tail with rep movsb or stosb): a byte loop here made half of all kernel
 * instructions the test guest executed, which no real kernel looks like. */
#include "kstring.h"

int kstrcmp(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return (unsigned char)*a - (unsigned char)*b;
}
int kmemcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}
void *kmemcpy(void *d, const void *s, size_t n) {
  uint32_t words = n / 4, tail = n % 4;
  void *di = d;
  __asm__ volatile("cld\n\trep movsl\n\tmovl %[tail], %%ecx\n\trep movsb"
                   : "+D"(di), "+S"(s), "+c"(words)
                   : [tail] "r"(tail)
                   : "memory");
  return d;
}
void *kmemset(void *d, int c, size_t n) {
  uint32_t words = n / 4, tail = n % 4, pattern = (uint8_t)c * 0x01010101u;
  void *di = d;
  __asm__ volatile("cld\n\trep stosl\n\tmovl %[tail], %%ecx\n\trep stosb"
                   : "+D"(di), "+c"(words)
                   : "a"(pattern), [tail] "r"(tail)
                   : "memory");
  return d;
}
size_t kstrlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
void *memcpy(void *d, const void *s, size_t n) { return kmemcpy(d, s, n); }
void *memset(void *d, int c, size_t n) { return kmemset(d, c, n); }
