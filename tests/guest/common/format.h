/* printf-style formatting shared by the guest kernel (kprintf) and the user library (printf).
 * Pure: formats into a caller-supplied sink, never does I/O itself. */
#ifndef GUEST_FORMAT_H
#define GUEST_FORMAT_H
#include <stdarg.h>

typedef void (*format_sink)(char c, void *ctx);

/* Supports %d %u %x %X %s %c %% with optional '0' flag and width, and the 'l' modifier (ignored). */
void format_v(format_sink sink, void *ctx, const char *fmt, va_list ap);

#endif
