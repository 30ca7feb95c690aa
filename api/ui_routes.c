/* ui_routes.c -- serves the embedded dashboard under /ui/. Its files all sit at the top
 * (/ui/app.js); every other path under /ui/ that is a view's (one with a '/' further on,
 * such as /ui/jobs/ns/name, whose name may hold dots, or a top-level one without a file
 * extension) gets index.html, so the single-page app's deep links survive a reload. */
#include "api/internal.h"

#include "api/web_assets.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>

static const struct web_asset *find(const char *rel)
{
    for (int i = 0; i < web_assets_count; i++)
        if (strcmp(web_assets[i].path, rel) == 0)
            return &web_assets[i];
    return NULL;
}

void h_ui(struct api *a, const struct api_request *req, const struct route_params *p,
          struct api_response *resp)
{
    const char *rel = req->path + strlen("/ui");
    const struct web_asset *asset = NULL;

    (void)a;
    (void)p;
    while (*rel == '/')
        rel++;
    if (!strstr(rel, "..")) {
        asset = find(rel);
        if (!asset && (*rel == '\0' || strchr(rel, '/') || !strchr(rel, '.')))
            asset = find("index.html");
    }
    if (!asset) {
        resp_errorf(resp, ERR_NOT_FOUND, NULL, "no such file: %s", req->path);
        return;
    }
    resp->status = 200;
    resp->content_type = asset->content_type;
    resp->body = xmalloc(asset->len + 1);
    memcpy(resp->body, asset->data, asset->len);
    resp->body[asset->len] = '\0';
    resp->body_len = asset->len;
}

void h_root(struct api *a, const struct api_request *req, const struct route_params *p,
            struct api_response *resp)
{
    (void)a;
    (void)req;
    (void)p;
    snprintf(resp->location, sizeof(resp->location), "/ui/");
    resp_text(resp, 302, "text/plain; charset=utf-8", xstrdup("see /ui/\n"));
}
