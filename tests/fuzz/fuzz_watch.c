/* fuzz_watch.c -- libFuzzer target for what a member cluster's API server sends the
 * connector's reflector (cluster/reflector.c): a watch stream (WatchEvent lines, cut into
 * chunks of any size, so events straddle reads) or a LIST page, read into a store of pods or
 * nodes with the real decoders (k8s_pod_read, k8s_node_read). The first input byte picks
 * list or watch, pods or nodes, and the chunk size; the rest is the body. Each input goes
 * to the same reflector as a watch and then again, so stores built by earlier events meet
 * later ones. Besides memory safety it checks that every stored item has a key, that
 * errors_total counts every error of every kind, and that a body that fails leaves the
 * store as it was or replaced whole (never half a list). */
#include "base/err.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/k8s.h"
#include "cluster/reflector.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cluster_config cfg;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_watch: %s\n", what);
    abort();
}

static int decode_pod(const struct k8s_json *d, int tok, void *item, void *arg, struct err *e)
{
    (void)arg;
    return k8s_pod_read(d, tok, item, e);
}

static int decode_node(const struct k8s_json *d, int tok, void *item, void *arg, struct err *e)
{
    (void)arg;
    return k8s_node_read(d, tok, &cfg, sku_catalogue(), item, e);
}

static void check_key(const char *key, const void *item, void *arg)
{
    (void)item;
    if (!key || !key[0])
        fail("an item without a key");
    ++*(size_t *)arg;
}

static void check(struct reflector *r)
{
    struct reflector_stats st;
    uint64_t sum = 0;
    size_t seen = 0;

    reflector_get_stats(r, &st);
    for (int k = 0; k < CLUSTER_ERR_KINDS; k++)
        sum += st.errors_by_kind[k];
    if (sum != st.errors_total)
        fail("errors_total is not the sum of errors_by_kind");
    reflector_foreach(r, check_key, &seen);
    if (seen != reflector_count(r))
        fail("foreach and count disagree");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(cfg.name, sizeof(cfg.name), "fuzz");
    snprintf(cfg.api_server, sizeof(cfg.api_server), "https://127.0.0.1:1");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reflector_options o = {
        .page_limit = 500,
        .request_timeout_ms = 1000,
        .connect_timeout_ms = 1000,
        .watch_timeout_s = 300,
        .watch_idle_ms = 90000,
        .backoff_base_ms = 1,
        .backoff_max_ms = 2,
        .max_list_bytes = 1 << 20,
        .max_event_bytes = 64 << 10,
    };
    struct reflector *r = NULL;
    struct err e = {0};
    const char *body;
    size_t len, chunk;
    bool list, nodes;

    if (size < 1)
        return 0;
    list = data[0] & 1;
    nodes = data[0] & 2;
    chunk = (size_t)(data[0] >> 2) * 7 + 1; /* 1 .. 442 bytes per read */
    body = (const char *)data + 1;
    len = size - 1;
    o.path = nodes ? "/api/v1/nodes" : "/api/v1/pods";
    o.item_size = nodes ? sizeof(struct k8s_node) : sizeof(struct k8s_pod);
    o.decode = nodes ? decode_node : decode_pod;
    if (reflector_new(&cfg, &o, &r, &e) != 0)
        fail(e.msg);
    if (reflector_feed(r, list, body, len, chunk) != 0)
        fail("feed refused");
    check(r);
    /* Again, as a watch over whatever the first pass left, in other chunks. */
    if (reflector_feed(r, false, body, len, chunk * 3 + 1) != 0)
        fail("feed refused");
    check(r);
    reflector_free(&r, NULL);
    return 0;
}
