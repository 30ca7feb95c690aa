/* sku.h -- the GPU SKU catalogue: job-facing names ("a100-80gb") mapped to the
 * nvidia.com/gpu.product values (and memory, where names are ambiguous) that GPU Feature
 * Discovery puts on nodes. Built-in defaults; config may replace the table at start.
 * Not responsible for reading config (cmd/config.c) or node labels (cluster/). */
#ifndef BASE_SKU_H
#define BASE_SKU_H

#include <stddef.h>

#define SKU_MAX          64 /* SKUs in one catalogue */
#define SKU_PRODUCTS_MAX 8  /* product label values per SKU */

struct sku {
    char name[32];                       /* "a100-80gb" */
    char products[SKU_PRODUCTS_MAX][64]; /* "NVIDIA-A100-SXM4-80GB", ... */
    size_t n_products;
    int memory_mib; /* match nvidia.com/gpu.memory within 10% when > 0 */
};

struct sku_catalogue {
    struct sku skus[SKU_MAX];
    size_t n;
};

/* The built-in catalogue (a100-40gb, a100-80gb, h100-80gb, h200-141gb, l4, t4,
 * v100-16gb, v100-32gb, a10, ...). Immutable; safe from any thread. */
const struct sku_catalogue *sku_defaults(void);

/* Process-wide catalogue in force: the defaults unless sku_set_catalogue() replaced it
 * during start-up (before threads). */
const struct sku_catalogue *sku_catalogue(void);
void sku_set_catalogue(const struct sku_catalogue *c); /* copies c */

/* Index of the SKU named name, or -1. */
int sku_find(const struct sku_catalogue *c, const char *name);

/* Index of the SKU whose product matches product (exact, case-insensitive) and, when the
 * SKU sets memory_mib and memory_mib_label > 0, whose memory agrees. -1 when none. */
int sku_match_product(const struct sku_catalogue *c, const char *product, int memory_mib_label);

/* Writes "a10, a100-40gb, ..." (all names, comma-separated) into out. */
void sku_list_names(const struct sku_catalogue *c, char *out, size_t size);

#endif
