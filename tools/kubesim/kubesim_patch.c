/* kubesim_patch.c -- JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) on jansson
 * documents, for the simulated API server's PATCH. */
#include "tools/kubesim/kubesim_patch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POINTER_MAX 1024

/* Decodes the reference token tok (of length n, ~0 and ~1 escapes) into out. */
static bool token_decode(const char *tok, size_t n, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char ch = tok[i];

        if (ch == '~') {
            if (i + 1 >= n || (tok[i + 1] != '0' && tok[i + 1] != '1'))
                return false;
            ch = tok[++i] == '0' ? '~' : '/';
        }
        if (o + 1 >= size)
            return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    return true;
}

/* An array index token: digits without a leading zero, below n (or equal when end_ok). */
static bool array_index(const char *tok, size_t n, bool end_ok, size_t *out)
{
    char *end;
    unsigned long v;

    if (!*tok || (tok[0] == '0' && tok[1]) || tok[0] < '0' || tok[0] > '9')
        return false;
    v = strtoul(tok, &end, 10);
    if (*end || v > n || (v == n && !end_ok))
        return false;
    *out = v;
    return true;
}

/* Splits pointer into its parent (borrowed from doc) and last token. The root pointer ""
 * gives *parent NULL. False when an intermediate member is missing. */
static bool resolve_parent(json_t *doc, const char *pointer, json_t **parent, char *last,
                           size_t size)
{
    const char *p = pointer, *slash;
    json_t *cur = doc;
    char tok[POINTER_MAX];

    *parent = NULL;
    if (!*pointer)
        return true;
    if (*pointer != '/')
        return false;
    for (;;) {
        p++;
        slash = strchr(p, '/');
        if (!token_decode(p, slash ? (size_t)(slash - p) : strlen(p), tok, sizeof(tok)))
            return false;
        if (!slash) {
            *parent = cur;
            snprintf(last, size, "%s", tok);
            return true;
        }
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            size_t i;

            cur = array_index(tok, json_array_size(cur), false, &i) ? json_array_get(cur, i) : NULL;
        } else {
            cur = NULL;
        }
        if (!cur)
            return false;
        p = slash;
    }
}

static json_t *get_at(json_t *doc, const char *pointer)
{
    json_t *parent;
    char last[POINTER_MAX];
    size_t i;

    if (!resolve_parent(doc, pointer, &parent, last, sizeof(last)))
        return NULL;
    if (!parent)
        return doc;
    if (json_is_object(parent))
        return json_object_get(parent, last);
    if (json_is_array(parent) && array_index(last, json_array_size(parent), false, &i))
        return json_array_get(parent, i);
    return NULL;
}

/* Removes the value at pointer; *taken (when not NULL) gets a reference to it. */
static bool remove_at(json_t *doc, const char *pointer, json_t **taken)
{
    json_t *parent, *v;
    char last[POINTER_MAX];
    size_t i;

    if (!resolve_parent(doc, pointer, &parent, last, sizeof(last)) || !parent)
        return false;
    if (json_is_object(parent)) {
        v = json_object_get(parent, last);
        if (!v)
            return false;
        if (taken)
            *taken = json_incref(v);
        json_object_del(parent, last);
        return true;
    }
    if (!json_is_array(parent) || !array_index(last, json_array_size(parent), false, &i))
        return false;
    if (taken)
        *taken = json_incref(json_array_get(parent, i));
    json_array_remove(parent, i);
    return true;
}

/* Adds (or, with replace, replaces) v at pointer; steals v. */
static bool put_at(json_t **doc, const char *pointer, json_t *v, bool replace)
{
    json_t *parent;
    char last[POINTER_MAX];
    size_t i;
    bool ok = false;

    if (!resolve_parent(*doc, pointer, &parent, last, sizeof(last)))
        goto out;
    if (!parent) {
        json_decref(*doc);
        *doc = v;
        return true;
    }
    if (json_is_object(parent)) {
        if (!replace || json_object_get(parent, last))
            ok = json_object_set(parent, last, v) == 0;
    } else if (json_is_array(parent)) {
        size_t n = json_array_size(parent);

        if (replace)
            ok = array_index(last, n, false, &i) && json_array_set(parent, i, v) == 0;
        else if (strcmp(last, "-") == 0)
            ok = json_array_append(parent, v) == 0;
        else
            ok = array_index(last, n, true, &i) && json_array_insert(parent, i, v) == 0;
    }
out:
    json_decref(v);
    return ok;
}

/* Applies one op to *doc; SIM_PATCH_BAD when the op is malformed. */
static enum sim_patch_result apply_op(json_t **doc, const json_t *op, char *why, size_t size)
{
    const char *name = json_string_value(json_object_get(op, "op"));
    const char *path = json_string_value(json_object_get(op, "path"));
    const char *from = json_string_value(json_object_get(op, "from"));
    json_t *value = json_object_get(op, "value"), *v = NULL;
    bool needs_value, needs_from;

    if (!json_is_object(op) || !name || !path) {
        snprintf(why, size, "an operation needs \"op\" and \"path\"");
        return SIM_PATCH_BAD;
    }
    needs_value =
        strcmp(name, "add") == 0 || strcmp(name, "replace") == 0 || strcmp(name, "test") == 0;
    needs_from = strcmp(name, "move") == 0 || strcmp(name, "copy") == 0;
    if ((needs_value && !value) || (needs_from && !from) ||
        (!needs_value && !needs_from && strcmp(name, "remove") != 0)) {
        snprintf(why, size, "unsupported or incomplete operation \"%s\" on %s", name, path);
        return SIM_PATCH_BAD;
    }
    if (strcmp(name, "test") == 0) {
        if (json_equal(get_at(*doc, path), value))
            return SIM_PATCH_OK;
        snprintf(why, size, "testing value %s failed", path);
        return SIM_PATCH_UNAPPLIED;
    }
    if (strcmp(name, "remove") == 0 && remove_at(*doc, path, NULL))
        return SIM_PATCH_OK;
    if (needs_value && put_at(doc, path, json_deep_copy(value), strcmp(name, "replace") == 0))
        return SIM_PATCH_OK;
    if (strcmp(name, "copy") == 0 && (v = get_at(*doc, from)) &&
        put_at(doc, path, json_deep_copy(v), false))
        return SIM_PATCH_OK;
    if (strcmp(name, "move") == 0 && remove_at(*doc, from, &v) && put_at(doc, path, v, false))
        return SIM_PATCH_OK;
    snprintf(why, size, "%s operation does not apply: doc is missing path: \"%s\"", name, path);
    return SIM_PATCH_UNAPPLIED;
}

enum sim_patch_result sim_json_patch(json_t **doc, const json_t *ops, char *why, size_t size)
{
    json_t *work;
    size_t i;
    const json_t *op;

    if (!json_is_array(ops)) {
        snprintf(why, size, "a JSON patch is an array of operations");
        return SIM_PATCH_BAD;
    }
    work = json_deep_copy(*doc);
    json_array_foreach(ops, i, op)
    {
        enum sim_patch_result r = apply_op(&work, op, why, size);

        if (r != SIM_PATCH_OK) {
            json_decref(work);
            return r;
        }
    }
    json_decref(*doc);
    *doc = work;
    return SIM_PATCH_OK;
}

void sim_merge_patch(json_t **doc, const json_t *patch)
{
    const char *key;
    json_t *v;

    if (!json_is_object(patch)) {
        json_decref(*doc);
        *doc = json_deep_copy(patch);
        return;
    }
    if (!json_is_object(*doc)) {
        json_decref(*doc);
        *doc = json_object();
    }
    json_object_foreach((json_t *)patch, key, v)
    {
        json_t *cur;

        if (json_is_null(v)) {
            json_object_del(*doc, key);
            continue;
        }
        cur = json_incref(json_object_get(*doc, key));
        if (!cur)
            cur = json_null();
        sim_merge_patch(&cur, v);
        json_object_set_new(*doc, key, cur);
    }
}
