/* sku.c -- the built-in SKU catalogue and lookups. */
#include "base/sku.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Product strings are those GPU Feature Discovery reports (nvidia-smi's name with spaces
 * replaced by dashes). Several board variants map to one job-facing SKU. */
static const struct sku_catalogue builtin = {
    .skus =
        {
            {"a10", {"NVIDIA-A10"}, 1, 0},
            {"a100-40gb",
             {"NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-PCIE-40GB", "A100-SXM4-40GB"},
             3,
             0},
            {"a100-80gb",
             {"NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe", "A100-SXM4-80GB"},
             3,
             0},
            {"h100-80gb",
             {"NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-SXM5-80GB", "NVIDIA-H100-PCIe"},
             3,
             0},
            {"h200-141gb", {"NVIDIA-H200", "NVIDIA-H200-141GB-HBM3e"}, 2, 0},
            {"l4", {"NVIDIA-L4"}, 1, 0},
            {"l40s", {"NVIDIA-L40S"}, 1, 0},
            {"t4", {"Tesla-T4"}, 1, 0},
            /* The V100 product name does not always carry the memory size (PCIe boards
         * report "Tesla-V100-PCIE"), so the memory label tells the two apart. */
            {"v100-16gb",
             {"Tesla-V100-SXM2-16GB", "Tesla-V100-PCIE-16GB", "Tesla-V100-PCIE"},
             3,
             16384},
            {"v100-32gb",
             {"Tesla-V100-SXM2-32GB", "Tesla-V100-PCIE-32GB", "Tesla-V100-PCIE"},
             3,
             32768},
        },
    .n = 10,
};

static struct sku_catalogue current;
static int current_set;

const struct sku_catalogue *sku_defaults(void)
{
    return &builtin;
}

const struct sku_catalogue *sku_catalogue(void)
{
    return current_set ? &current : &builtin;
}

void sku_set_catalogue(const struct sku_catalogue *c)
{
    current = *c;
    current_set = 1;
}

int sku_find(const struct sku_catalogue *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->skus[i].name, name) == 0)
            return (int)i;
    return -1;
}

int sku_match_product(const struct sku_catalogue *c, const char *product, int memory_mib_label)
{
    int fallback = -1;

    for (size_t i = 0; i < c->n; i++) {
        const struct sku *s = &c->skus[i];

        for (size_t k = 0; k < s->n_products; k++) {
            if (strcasecmp(s->products[k], product) != 0)
                continue;
            if (s->memory_mib <= 0 || memory_mib_label <= 0) {
                if (fallback < 0)
                    fallback = (int)i;
                continue;
            }
            if (abs(memory_mib_label - s->memory_mib) * 10 <= s->memory_mib)
                return (int)i;
        }
    }
    return fallback;
}

void sku_list_names(const struct sku_catalogue *c, char *out, size_t size)
{
    size_t used = 0;

    if (size == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < c->n && used < size; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", c->skus[i].name);

        if (n < 0)
            break;
        used += (size_t)n;
    }
}
