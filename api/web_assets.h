/* web_assets.h -- the dashboard files compiled into the binary (generated from web/ by
 * api/embed-web.sh), served under /ui/. */
#ifndef API_WEB_ASSETS_H
#define API_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path; /* relative to web/, e.g. "index.html", "js/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
};

extern const struct web_asset web_assets[];
extern const int web_assets_count;

#endif
