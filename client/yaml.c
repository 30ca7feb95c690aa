/* yaml.c -- YAML documents to jansson values, over libyaml's event parser.
 * Not responsible for what the values mean, nor for writing YAML (yaml_emit.c).
 *
 * libyaml reports events (document start, mapping start, scalar, alias ...); one
 * recursive function turns the events of one node into one json_t. Anchored values are
 * remembered with the number of values they hold, so an alias costs what it expands to
 * and a "billion laughs" file stops at YAML_MAX_NODES instead of filling memory. */
#include "client/yaml.h"

#include "base/err.h"
#include "base/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct anchor {
    char *name;
    json_t *value;
    size_t nodes; /* values inside value, itself included */
};

struct yp {
    yaml_parser_t parser;
    struct anchor *anchors;
    size_t n_anchors, cap_anchors;
    size_t nodes; /* values built so far, aliases counted as expanded */
    struct err *e;
};

static int at(struct err *e, enum err_code code, yaml_mark_t m, const char *what)
{
    return err_set(e, code, NULL, "line %zu, column %zu: %s", m.line + 1, m.column + 1, what);
}

static int next_event(struct yp *y, yaml_event_t *ev)
{
    char what[384];

    if (yaml_parser_parse(&y->parser, ev))
        return 0;
    if (y->parser.context)
        snprintf(what, sizeof what, "%s (%s at line %zu, column %zu)",
                 y->parser.problem ? y->parser.problem : "syntax error", y->parser.context,
                 y->parser.context_mark.line + 1, y->parser.context_mark.column + 1);
    else
        snprintf(what, sizeof what, "%s", y->parser.problem ? y->parser.problem : "syntax error");
    return at(y->e, ERR_MALFORMED, y->parser.problem_mark, what);
}

static int count_node(struct yp *y, size_t n, yaml_mark_t m)
{
    char what[128];

    if (n <= YAML_MAX_NODES && y->nodes <= YAML_MAX_NODES - n) {
        y->nodes += n;
        return 0;
    }
    snprintf(what, sizeof what, "more than %d values (aliases counted as expanded)",
             YAML_MAX_NODES);
    return at(y->e, ERR_TOO_LARGE, m, what);
}

static void remember(struct yp *y, const char *name, json_t *v, size_t nodes)
{
    /* A later anchor of the same name hides the earlier one, as YAML says. */
    if (y->n_anchors == y->cap_anchors) {
        y->cap_anchors = y->cap_anchors ? 2 * y->cap_anchors : 8;
        y->anchors = xrealloc(y->anchors, y->cap_anchors * sizeof *y->anchors);
    }
    y->anchors[y->n_anchors].name = xstrdup(name);
    y->anchors[y->n_anchors].value = json_incref(v);
    y->anchors[y->n_anchors].nodes = nodes;
    y->n_anchors++;
}

static const struct anchor *find_anchor(const struct yp *y, const char *name)
{
    for (size_t i = y->n_anchors; i > 0; i--)
        if (strcmp(y->anchors[i - 1].name, name) == 0)
            return &y->anchors[i - 1];
    return NULL;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

static bool all_in(const char *s, const char *chars)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!strchr(chars, *s))
            return false;
    return true;
}

/* [-+]? ( . digits | digits ( . digits? )? ) ( [eE] [-+]? digits )?  -- the core schema's
 * float, which is also every integer; the caller tries integers first. */
static bool core_float(const char *s)
{
    size_t before = 0, after = 0;

    if (*s == '-' || *s == '+')
        s++;
    while (*s >= '0' && *s <= '9')
        s++, before++;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++, after++;
    }
    if (before + after == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        size_t exp = 0;

        s++;
        if (*s == '-' || *s == '+')
            s++;
        while (*s >= '0' && *s <= '9')
            s++, exp++;
        if (exp == 0)
            return false;
    }
    return *s == '\0';
}

static int plain_int(struct yp *y, const char *s, yaml_mark_t m, json_t **out)
{
    const char *digits = s;
    int base = 10;
    long long v;
    char *end;

    if (s[0] == '0' && s[1] == 'o')
        digits = s + 2, base = 8;
    else if (s[0] == '0' && s[1] == 'x')
        digits = s + 2, base = 16;
    if (*digits == '-' && base != 10)
        return 1;
    errno = 0;
    v = strtoll(digits, &end, base);
    if (errno == ERANGE) {
        char what[200];

        snprintf(what, sizeof what, "integer %.64s does not fit in 64 bits", s);
        return at(y->e, ERR_MALFORMED, m, what);
    }
    *out = json_integer((json_int_t)v);
    return 0;
}

/* A plain scalar as the YAML 1.2 core schema resolves it. Returns -1 on a value JSON
 * cannot hold (.inf, .nan, an integer past 64 bits). */
static int resolve_plain(struct yp *y, const char *s, yaml_mark_t m, json_t **out)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    static const char *const specials[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf",
                                           "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
                                           ".NaN",  ".NAN",  NULL};
    const char *unsigned_part = (*s == '-' || *s == '+') ? s + 1 : s;

    if (one_of(s, nulls))
        *out = json_null();
    else if (one_of(s, trues))
        *out = json_true();
    else if (one_of(s, falses))
        *out = json_false();
    else if (all_in(unsigned_part, "0123456789") ||
             (s[0] == '0' && s[1] == 'o' && all_in(s + 2, "01234567")) ||
             (s[0] == '0' && s[1] == 'x' && all_in(s + 2, "0123456789abcdefABCDEF")))
        return plain_int(y, s, m, out);
    else if (core_float(s)) {
        double d = strtod(s, NULL);

        if (!isfinite(d)) {
            char what[200];

            snprintf(what, sizeof what, "number %.64s is too large for JSON", s);
            return at(y->e, ERR_MALFORMED, m, what);
        }
        *out = json_real(d);
    } else if (one_of(s, specials)) {
        char what[200];

        snprintf(what, sizeof what, "%s cannot be represented in JSON", s);
        return at(y->e, ERR_MALFORMED, m, what);
    } else
        *out = json_string(s);
    return 0;
}

static int scalar_value(struct yp *y, const yaml_event_t *ev, json_t **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool str_tag = tag && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0);

    if (strlen(s) != ev->data.scalar.length)
        return at(y->e, ERR_MALFORMED, ev->start_mark, "a NUL character in a scalar");
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || str_tag) {
        *out = json_string(s);
        if (!*out)
            return at(y->e, ERR_MALFORMED, ev->start_mark, "a scalar that is not UTF-8");
        return 0;
    }
    if (resolve_plain(y, s, ev->start_mark, out) < 0)
        return -1;
    if (!*out)
        return at(y->e, ERR_MALFORMED, ev->start_mark, "a scalar that is not UTF-8");
    return 0;
}

static int parse_node(struct yp *y, yaml_event_t *ev, int depth, json_t **out, size_t *nodes);

static int alias_value(struct yp *y, const yaml_event_t *ev, json_t **out, size_t *nodes)
{
    const struct anchor *a = find_anchor(y, (const char *)ev->data.alias.anchor);

    if (!a) {
        char what[200];

        snprintf(what, sizeof what, "alias *%.100s names no earlier anchor",
                 (const char *)ev->data.alias.anchor);
        return at(y->e, ERR_MALFORMED, ev->start_mark, what);
    }
    if (count_node(y, a->nodes, ev->start_mark) < 0)
        return -1;
    *out = json_deep_copy(a->value);
    *nodes = a->nodes;
    return 0;
}

static int sequence_value(struct yp *y, int depth, json_t **out, size_t *nodes)
{
    json_t *arr = json_array();
    yaml_event_t ev;

    for (;;) {
        json_t *item = NULL;
        size_t n = 0;

        if (next_event(y, &ev) < 0)
            goto fail;
        if (ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        if (parse_node(y, &ev, depth + 1, &item, &n) < 0) {
            yaml_event_delete(&ev);
            goto fail;
        }
        yaml_event_delete(&ev);
        json_array_append_new(arr, item);
        *nodes += n;
    }
    yaml_event_delete(&ev);
    *out = arr;
    return 0;
fail:
    json_decref(arr);
    return -1;
}

/* A key: a scalar (taken as written, never resolved) or an alias of a string. */
static int key_text(struct yp *y, const yaml_event_t *ev, const char **key)
{
    if (ev->type == YAML_SCALAR_EVENT) {
        if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
            return at(y->e, ERR_MALFORMED, ev->start_mark, "a NUL character in a key");
        *key = (const char *)ev->data.scalar.value;
        if (ev->data.scalar.anchor) {
            json_t *k = json_string(*key);

            if (!k)
                return at(y->e, ERR_MALFORMED, ev->start_mark, "a key that is not UTF-8");
            remember(y, (const char *)ev->data.scalar.anchor, k, 1);
            json_decref(k);
        }
        return 0;
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        const struct anchor *a = find_anchor(y, (const char *)ev->data.alias.anchor);

        if (a && json_is_string(a->value)) {
            *key = json_string_value(a->value);
            return 0;
        }
    }
    return at(y->e, ERR_MALFORMED, ev->start_mark,
              "a mapping key must be a scalar (a string, number or name), not a "
              "mapping, sequence or alias of one");
}

static int mapping_value(struct yp *y, int depth, json_t **out, size_t *nodes)
{
    json_t *obj = json_object();
    yaml_event_t kev, vev;

    for (;;) {
        json_t *value = NULL;
        const char *key = NULL;
        size_t n = 0;

        if (next_event(y, &kev) < 0)
            goto fail;
        if (kev.type == YAML_MAPPING_END_EVENT)
            break;
        if (key_text(y, &kev, &key) < 0 || next_event(y, &vev) < 0)
            goto fail_key;
        if (parse_node(y, &vev, depth + 1, &value, &n) < 0) {
            yaml_event_delete(&vev);
            goto fail_key;
        }
        yaml_event_delete(&vev);
        if (json_object_get(obj, key)) {
            char what[256];

            snprintf(what, sizeof what, "duplicate key \"%.150s\"", key);
            json_decref(value);
            at(y->e, ERR_MALFORMED, kev.start_mark, what);
            goto fail_key;
        }
        if (json_object_set_new(obj, key, value) < 0) {
            at(y->e, ERR_MALFORMED, kev.start_mark, "a key that is not UTF-8");
            goto fail_key;
        }
        yaml_event_delete(&kev);
        *nodes += n;
    }
    yaml_event_delete(&kev);
    *out = obj;
    return 0;
fail_key:
    yaml_event_delete(&kev);
fail:
    json_decref(obj);
    return -1;
}

/* Builds the node that ev starts (ev stays the caller's to delete). *nodes gets the
 * number of values built, aliases counted as expanded. */
static int parse_node(struct yp *y, yaml_event_t *ev, int depth, json_t **out, size_t *nodes)
{
    const char *anchor = NULL;
    int rc;

    if (depth > YAML_MAX_DEPTH)
        return at(y->e, ERR_TOO_LARGE, ev->start_mark, "nested too deeply (more than 64 levels)");
    if (ev->type == YAML_ALIAS_EVENT)
        return alias_value(y, ev, out, nodes);
    if (count_node(y, 1, ev->start_mark) < 0)
        return -1;
    *nodes = 1;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        anchor = (const char *)ev->data.scalar.anchor;
        rc = scalar_value(y, ev, out);
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = (const char *)ev->data.sequence_start.anchor;
        rc = sequence_value(y, depth, out, nodes);
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = (const char *)ev->data.mapping_start.anchor;
        rc = mapping_value(y, depth, out, nodes);
        break;
    default: return at(y->e, ERR_MALFORMED, ev->start_mark, "unexpected event");
    }
    if (rc == 0 && anchor)
        remember(y, anchor, *out, *nodes);
    return rc;
}

static void forget_anchors(struct yp *y)
{
    for (size_t i = 0; i < y->n_anchors; i++) {
        free(y->anchors[i].name);
        json_decref(y->anchors[i].value);
    }
    y->n_anchors = 0;
}

/* One document after its DOCUMENT-START: *out is NULL when it holds nothing. Anchors
 * belong to their document, as YAML says. */
static int parse_document(struct yp *y, json_t **out)
{
    yaml_event_t ev;
    size_t nodes = 0;
    int rc;

    *out = NULL;
    forget_anchors(y);
    if (next_event(y, &ev) < 0)
        return -1;
    if (ev.type == YAML_DOCUMENT_END_EVENT) {
        yaml_event_delete(&ev);
        return 0;
    }
    rc = parse_node(y, &ev, 1, out, &nodes);
    yaml_event_delete(&ev);
    if (rc < 0)
        return -1;
    if (next_event(y, &ev) < 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    yaml_event_delete(&ev); /* DOCUMENT-END: the grammar allows nothing else here */
    return 0;
}

static int parse_stream(struct yp *y, json_t *docs)
{
    yaml_event_t ev;

    for (;;) {
        json_t *doc;

        if (next_event(y, &ev) < 0)
            return -1;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type != YAML_DOCUMENT_START_EVENT) { /* STREAM-START */
            yaml_event_delete(&ev);
            continue;
        }
        yaml_event_delete(&ev);
        if (parse_document(y, &doc) < 0)
            return -1;
        if (doc && !json_is_null(doc))
            json_array_append_new(docs, doc);
        else
            json_decref(doc);
    }
}

int yaml_parse_all(const char *text, size_t len, json_t **docs, struct err *e)
{
    struct yp y = {.e = e};
    json_t *arr;
    int rc;

    if (len > YAML_MAX_BYTES)
        return err_set(e, ERR_TOO_LARGE, NULL, "YAML text of %zu bytes is over the %d-byte limit",
                       len, YAML_MAX_BYTES);
    if (!yaml_parser_initialize(&y.parser))
        return err_set(e, ERR_INTERNAL, NULL, "cannot start the YAML parser");
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
    arr = json_array();
    rc = parse_stream(&y, arr);
    yaml_parser_delete(&y.parser);
    forget_anchors(&y);
    free(y.anchors);
    if (rc < 0) {
        json_decref(arr);
        return -1;
    }
    *docs = arr;
    return 0;
}
