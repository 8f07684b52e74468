/* printf-style formatting shared by the guest kernel and the user library.
 * Pure: only calls the sink; never touches hardware or memory it was not given. */
#include "format.h"

#include <stdint.h>

static void put_number(format_sink sink, void *ctx, uint32_t v, unsigned base, int neg, int width, char pad,
                       int upper) {
  char buf[16];
  int n = 0;
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    buf[n++] = digits[v % base];
    v /= base;
  } while (v);
  int len = n + (neg ? 1 : 0);
  if (neg && pad == '0') sink('-', ctx);
  for (; len < width; len++) sink(pad, ctx);
  if (neg && pad != '0') sink('-', ctx);
  while (n) sink(buf[--n], ctx);
}

void format_v(format_sink sink, void *ctx, const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      sink(*fmt, ctx);
      continue;
    }
    fmt++;
    char pad = ' ';
    int width = 0;
    if (*fmt == '0') {
      pad = '0';
      fmt++;
    }
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l') fmt++;
    switch (*fmt) {
      case 'd': {
        int32_t v = va_arg(ap, int32_t);
        put_number(sink, ctx, v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v, 10, v < 0, width, pad, 0);
        break;
      }
      case 'u': put_number(sink, ctx, va_arg(ap, uint32_t), 10, 0, width, pad, 0); break;
      case 'x': put_number(sink, ctx, va_arg(ap, uint32_t), 16, 0, width, pad, 0); break;
      case 'X': put_number(sink, ctx, va_arg(ap, uint32_t), 16, 0, width, pad, 1); break;
      case 'c': sink((char)va_arg(ap, int), ctx); break;
      case 's': {
        const char *s = va_arg(ap, const char *);
        int len = 0;
        while (s[len]) len++;
        for (; len < width; len++) sink(' ', ctx);
        while (*s) sink(*s++, ctx);
        break;
      }
      case '%': sink('%', ctx); break;
      case '\0': return;
      default: sink('%', ctx); sink(*fmt, ctx); break;
    }
  }
}
