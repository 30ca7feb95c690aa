/* test_security.c -- the per-token rate limit under load (wrk on loopback), HTTPS, and a
 * member cluster whose certificate does not verify against its CA. */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/fedsched-security-%d", (int)getpid());
    mkdir(dir, 0755);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void create_token(const char *dsn, const char *name, char out[64])
{
    char cmd[2048];
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "FEDSCHED_DATABASE_DSN='%s' '%s' token create --name %s --role viewer 2>/dev/null",
             dsn, getenv("FEDSCHED_BIN"), name);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(fgets(out, 64, p));
    out[strcspn(out, "\n")] = '\0';
    ck_assert_int_eq(pclose(p), 0);
}

/* A raw request, so the test sees the response's headers. */
static void raw_get(int port, const char *path, const char *token, char *out, size_t size)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char req[512];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t n, got = 0;

    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n",
             path, token);
    ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while ((n = read(fd, out + got, size - 1 - (size_t)got)) > 0)
        got += n;
    out[got] = '\0';
    close(fd);
}

struct polite {
    const char *base, *token;
    int ok, total;
};

/* Token B: 5 requests a second, well under the limit, while wrk floods with token A. */
static void *polite_client(void *arg)
{
    struct polite *p = arg;
    char url[256], auth[128];
    const char *hdr[] = {auth, NULL};

    snprintf(url, sizeof(url), "%s/v1/clusters", p->base);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->token);
    for (int i = 0; i < 12; i++) {
        p->total++;
        p->ok += itest_http("GET", url, hdr, NULL, NULL) == 200;
        usleep(200 * 1000);
    }
    return NULL;
}

START_TEST(rate_limit_is_per_token_under_load)
{
    const char *env[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
    char dsn[1024], cfg[300], tok_a[64], tok_b[64], cmd[2048], line[512];
    char reply[4096];
    const char *args[] = {"--config", cfg, NULL};
    struct itest_server srv;
    struct polite polite = {0};
    pthread_t t;
    long total = 0, non2xx = 0;
    FILE *p;

    make_dir();
    snprintf(cfg, sizeof(cfg), "%s/rate.json", dir);
    write_file(cfg, "{\"auth\": {\"ratePerSecond\": 20, \"burst\": 20}}");
    itest_create_db(dsn, sizeof(dsn));
    itest_server_start_args(&srv, dsn, env, args, 1);
    create_token(dsn, "flood", tok_a);
    create_token(dsn, "polite", tok_b);
    polite.base = srv.base;
    polite.token = tok_b;
    pthread_create(&t, NULL, polite_client, &polite);
    snprintf(cmd, sizeof(cmd), "wrk -t1 -c4 -d3s -H 'Authorization: Bearer %s' %s/v1/clusters 2>&1",
             tok_a, srv.base);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    /* Mid-flood the token's bucket is empty: a request of the same token is refused, and
     * the refusal carries Retry-After. */
    usleep(1000 * 1000);
    raw_get(srv.port, "/v1/clusters", tok_a, reply, sizeof(reply));
    while (fgets(line, sizeof(line), p)) {
        if (strstr(line, "requests in"))
            total = strtol(line, NULL, 10);
        if (strstr(line, "Non-2xx or 3xx responses:"))
            non2xx = strtol(strchr(line, ':') + 1, NULL, 10);
    }
    ck_assert_int_eq(pclose(p), 0);
    pthread_join(t, NULL);
    /* About 20/s got through for 3 s (plus the burst); everything else was 429. */
    ck_assert_msg(total > 200, "wrk made only %ld requests", total);
    ck_assert_msg(non2xx >= total - 100, "%ld of %ld requests were refused", non2xx, total);
    ck_assert_int_eq(polite.ok, polite.total);
    ck_assert_msg(strncmp(reply, "HTTP/1.1 429", 12) == 0, "%s", reply);
    ck_assert_ptr_nonnull(strstr(reply, "Retry-After: "));
    ck_assert_ptr_nonnull(strstr(reply, "\"rate_limited\""));
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

/* openssl writes a self-signed certificate for 127.0.0.1 and its key. */
static void make_cert(const char *name)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/%s.key -out %s/%s.pem "
             "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             dir, name, dir, name);
    ck_assert_int_eq(system(cmd), 0);
}

static long https_get(const char *url, const char *ca, char **body)
{
    CURL *c = curl_easy_init();
    FILE *sink = tmpfile();
    long status = 0;

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    if (ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (body) {
        long n;

        fseek(sink, 0, SEEK_END);
        n = ftell(sink);
        rewind(sink);
        *body = xcalloc(1, (size_t)n + 1);
        if (fread(*body, 1, (size_t)n, sink) != (size_t)n)
            (*body)[0] = '\0';
    }
    fclose(sink);
    return status;
}

/* One openssl s_client handshake with extra flags; returns its output (caller frees).
 * SECLEVEL=0 lets the client offer what the server must refuse, so a refusal is the
 * server's (an alert), not the client's. */
static char *s_client(int port, const char *flags)
{
    char cmd[512], *out = xcalloc(1, 65536);
    size_t n = 0, got;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "echo | timeout 10 openssl s_client -connect 127.0.0.1:%d %s 2>&1",
             port, flags);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (n < 65535 && (got = fread(out + n, 1, 65535 - n, p)) > 0)
        n += got;
    pclose(p);
    return out;
}

/* The client sent its hello and the server ended the handshake (an alert, or closing
 * after reading it): no cipher was agreed, and not because the client had none to offer. */
static bool server_refused(const char *out)
{
    return strstr(out, "Cipher is (NONE)") && !strstr(out, "no protocols available") &&
           !strstr(out, "no ciphers available") && !strstr(out, "and written 0 bytes") &&
           (strstr(out, "alert") || strstr(out, "SSL handshake has read 0 bytes"));
}

START_TEST(https_and_member_cluster_ca)
{
    char dsn[1024], cfg[300], text[2048], url[256], ca[300], wrong_ca[300], *body = NULL;
    pid_t pid;
    int port = itest_free_port(), found_tls_error = 0;

    make_dir();
    make_cert("server");
    make_cert("other");
    snprintf(ca, sizeof(ca), "%s/server.pem", dir);
    snprintf(wrong_ca, sizeof(wrong_ca), "%s/other.pem", dir);
    snprintf(cfg, sizeof(cfg), "%s/tls.json", dir);
    snprintf(text, sizeof(text),
             "{\"listen\": \"127.0.0.1:%d\", \"http\": {\"tlsCertFile\": \"%s/server.pem\","
             " \"tlsKeyFile\": \"%s/server.key\"}, \"poller\": {\"intervalMs\": 300},"
             " \"clusters\": [{\"name\": \"wrong-ca\", \"apiServer\": \"https://127.0.0.1:%d\","
             " \"caFile\": \"%s\"}, {\"name\": \"right-ca\", \"apiServer\":"
             " \"https://127.0.0.1:%d\", \"caFile\": \"%s\"}]}",
             port, dir, dir, port, wrong_ca, port, ca);
    write_file(cfg, text);
    itest_create_db(dsn, sizeof(dsn));
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char log[320];
        int fd;

        snprintf(log, sizeof(log), "%s/serve.log", dir);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        unsetenv("FEDSCHED_LISTEN");
        setenv("FEDSCHED_DATABASE_DSN", dsn, 1);
        setenv("FEDSCHED_AUTH_MODE", "disabled", 1);
        setenv("FEDSCHED_SECRETS_DIR", dir, 1); /* where the CA files are */
        execl(getenv("FEDSCHED_BIN"), "fedsched", "serve", "--config", cfg, (char *)NULL);
        _exit(127);
    }
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/readyz", port);
    for (int i = 0; i < 100 && https_get(url, ca, NULL) != 200; i++)
        usleep(100 * 1000);
    ck_assert_int_eq(https_get(url, ca, NULL), 200);
    {
        /* TLS 1.2 with ECDHE works; TLS 1.0 and 1.1, and RSA key exchange (no forward
         * secrecy), are refused by the server with an alert. */
        char *ok = s_client(port, "-tls1_2"),
             *v11 = s_client(port, "-tls1_1 -cipher "
                                   "DEFAULT@SECLEVEL=0"),
             *v10 = s_client(port, "-tls1 -cipher DEFAULT@SECLEVEL=0"),
             *rsa = s_client(port, "-tls1_2 -cipher AES128-GCM-SHA256@SECLEVEL=0");

        ck_assert_msg(strstr(ok, "Cipher is ECDHE-"), "TLS 1.2 handshake: %.400s", ok);
        ck_assert_msg(server_refused(v11), "TLS 1.1: %.600s", v11);
        ck_assert_msg(server_refused(v10), "TLS 1.0: %.600s", v10);
        ck_assert_msg(server_refused(rsa), "RSA key exchange: %.600s", rsa);
        free(ok);
        free(v11);
        free(v10);
        free(rsa);
    }
    /* Without our CA the client refuses the server; plain HTTP gets no API answer. */
    ck_assert_int_eq(https_get(url, NULL, NULL), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    ck_assert_int_ne(itest_http("GET", url, NULL, NULL, NULL), 200);
    /* The member cluster whose CA does not match is reported, not trusted. */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/clusters/wrong-ca", port);
    for (int i = 0; i < 100 && !found_tls_error; i++) {
        free(body);
        https_get(url, ca, &body);
        found_tls_error =
            strstr(body, "\"Ready\"") == NULL &&
            (strstr(body, "certificate") || strstr(body, "SSL") || strstr(body, "TLS"));
        if (!found_tls_error)
            usleep(100 * 1000);
    }
    ck_assert_msg(found_tls_error, "wrong-ca: %s", body);
    /* With the right CA the TLS handshake succeeds (the API answers, though it is no
     * Kubernetes API server, so the error is about the lists, not the certificate). */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/clusters/right-ca", port);
    for (int i = 0; i < 100; i++) {
        free(body);
        https_get(url, ca, &body);
        if (strstr(body, "lastError") && !strstr(body, "\"lastError\":\"\""))
            break;
        usleep(100 * 1000);
    }
    ck_assert_msg(!strstr(body, "certificate") && !strstr(body, "SSL"), "right-ca: %s", body);
    free(body);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("security");
    TCase *tc = tcase_create("security");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, rate_limit_is_per_token_under_load);
    tcase_add_test(tc, https_and_member_cluster_ca);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
