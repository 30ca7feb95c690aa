/* log.h -- one line per event: `ts level module key=value ...` on stderr.
 * The level is process-wide, set once at start before threads exist. */
#ifndef BASE_LOG_H
#define BASE_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "debug", "info", "warn", "error". Returns 0 and fills *out, -1 otherwise. */
int log_parse_level(const char *s, enum log_level *out);

/* Writes one line. Use the LOG macro so the level is checked before formatting. */
void log_write(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG(level, module, ...)                                                                    \
    do {                                                                                           \
        if ((level) >= log_get_level())                                                            \
            log_write((level), (module), __VA_ARGS__);                                             \
    } while (0)

#endif
