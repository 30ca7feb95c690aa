/* yaml_emit.c -- jansson values to block-style YAML text.
 * Not responsible for reading YAML (yaml.c). Written by hand rather than with libyaml's
 * emitter because the output is small and fixed in shape: block mappings and sequences,
 * scalars plain when unambiguous, double-quoted otherwise. */
#include "client/yaml_emit.h"

#include "base/buf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool plain_safe(const char *s)
{
    /* Words some YAML reader (1.1's booleans included) takes for something else. */
    static const char *const words[] = {"null", "true", "false", "yes", "no",
                                        "on",   "off",  "y",     "n",   NULL};
    bool letter = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z');

    if (!letter && *s != '/')
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_./-", *p)))
            return false;
    for (const char *const *w = words; *w; w++)
        if (strcasecmp(s, *w) == 0)
            return false;
    return true;
}

/* Double-quoted: escapes for what YAML may not hold raw (C0 and C1 controls, DEL, the
 * Unicode line separators, BOM and non-characters) besides quote and backslash. */
static void put_quoted(struct buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    buf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];

        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c == '\n')
            buf_puts(b, "\\n");
        else if (c == '\t')
            buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            buf_printf(b, "\\x%02X", c);
        else if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            buf_printf(b, "\\u00%02X", p[++i]);
        else if (c == 0xe2 && i + 2 < n && p[i + 1] == 0x80 &&
                 (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
            buf_printf(b, "\\u20%02X", p[i + 2] - 0x80);
            i += 2;
        } else if (c == 0xef && i + 2 < n &&
                   ((p[i + 1] == 0xbb && p[i + 2] == 0xbf) ||
                    (p[i + 1] == 0xbf && (p[i + 2] == 0xbe || p[i + 2] == 0xbf)))) {
            buf_printf(b, "\\u%s", p[i + 1] == 0xbb ? "FEFF" : p[i + 2] == 0xbe ? "FFFE" : "FFFF");
            i += 2;
        } else
            buf_append(b, (const char *)&p[i], 1);
    }
    buf_puts(b, "\"");
}

static void put_string(struct buf *b, const char *s, size_t n)
{
    if (strlen(s) == n && plain_safe(s))
        buf_puts(b, s);
    else
        put_quoted(b, s, n);
}

static bool is_block(json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0);
}

static void put_scalar(struct buf *b, json_t *v)
{
    char *num;

    switch (json_typeof(v)) {
    case JSON_STRING: put_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL:
        num = json_dumps(v, JSON_ENCODE_ANY);
        buf_puts(b, num ? num : ".nan");
        free(num);
        break;
    case JSON_TRUE: buf_puts(b, "true"); break;
    case JSON_FALSE: buf_puts(b, "false"); break;
    case JSON_OBJECT: buf_puts(b, "{}"); break;
    case JSON_ARRAY: buf_puts(b, "[]"); break;
    default: buf_puts(b, "null"); break;
    }
}

static void put_block(struct buf *b, json_t *v, int indent, bool inline_first);

/* After "key:" or "- ": a scalar on the same line, a mapping or sequence below (a
 * sequence item's mapping starts on the dash's line). */
static void put_value(struct buf *b, json_t *v, int indent, bool after_dash)
{
    if (!is_block(v)) {
        buf_puts(b, " ");
        put_scalar(b, v);
        buf_puts(b, "\n");
    } else if (after_dash) {
        buf_puts(b, " ");
        put_block(b, v, indent, true);
    } else {
        buf_puts(b, "\n");
        put_block(b, v, json_is_array(v) ? indent - 2 : indent, false);
    }
}

/* v (a non-empty object or array) at indent; inline_first: the first line's indentation
 * is already written (after "- "). Sequences under a key sit at the key's column. */
static void put_block(struct buf *b, json_t *v, int indent, bool inline_first)
{
    bool first = true;

    if (json_is_object(v)) {
        const char *k;
        json_t *item;

        json_object_foreach(v, k, item)
        {
            if (!(first && inline_first))
                buf_printf(b, "%*s", indent, "");
            put_string(b, k, strlen(k));
            buf_puts(b, ":");
            put_value(b, item, indent + 2, false);
            first = false;
        }
        return;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (!(first && inline_first))
            buf_printf(b, "%*s", indent, "");
        buf_puts(b, "-");
        put_value(b, json_array_get(v, i), indent + 2, true);
        first = false;
    }
}

char *yaml_emit(json_t *v)
{
    struct buf b;

    buf_init(&b, 0);
    if (is_block(v))
        put_block(&b, v, 0, false);
    else {
        put_scalar(&b, v);
        buf_puts(&b, "\n");
    }
    return buf_steal(&b);
}
