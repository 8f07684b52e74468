/* String and memory helpers for the freestanding kernel. Byte loops on purpose: no SSE, no
 * alignment assumptions. */
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
  unsigned char *x = d;
  const unsigned char *y = s;
  for (size_t i = 0; i < n; i++) x[i] = y[i];
  return d;
}
void *kmemset(void *d, int c, size_t n) {
  unsigned char *x = d;
  for (size_t i = 0; i < n; i++) x[i] = (unsigned char)c;
  return d;
}
size_t kstrlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
void *memcpy(void *d, const void *s, size_t n) { return kmemcpy(d, s, n); }
void *memset(void *d, int c, size_t n) { return kmemset(d, c, n); }
