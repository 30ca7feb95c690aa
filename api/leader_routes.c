/* leader_routes.c -- GET /v1/leader: which replica decides and dispatches (the scheduler leader),
 * its fencing epoch, when it took over and last confirmed it, and whether its lock is held
 * right now (false while a takeover is pending). Any replica answers, from PostgreSQL. */
#include "api/internal.h"

#include "base/clock.h"
#include "store/election.h"

void h_leader(struct api *a, const struct api_request *req, const struct route_params *p,
              struct api_response *resp)
{
    struct store_leader_info li;
    struct err e = {0};
    char acquired[40] = "", renewed[40] = "";
    json_t *body;

    (void)req;
    (void)p;
    if (store_leader_get(a->store, &li, &e)) {
        resp_error(resp, &e);
        return;
    }
    body = json_pack("{s:I, s:b}", "epoch", (json_int_t)li.epoch, "active", li.locked);
    if (li.holder[0])
        json_object_set_new(body, "holder", json_string(li.holder));
    if (li.acquired_ms) {
        clock_format_rfc3339(li.acquired_ms, acquired, sizeof(acquired));
        json_object_set_new(body, "acquiredAt", json_string(acquired));
    }
    if (li.renewed_ms) {
        clock_format_rfc3339(li.renewed_ms, renewed, sizeof(renewed));
        json_object_set_new(body, "renewedAt", json_string(renewed));
    }
    resp_json(resp, 200, body);
}
