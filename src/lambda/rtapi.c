/* The Runtime API's server side: each runtime process has its own loopback listener, so the
 * manager knows which process every request comes from (timeouts, crash detection and logs need
 * that). The listener speaks the small HTTP/1.1 subset the Runtime API uses (rtapi_parse.c:
 * Content-Length or chunked bodies, keep-alive) and answers only its own runtime's processes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/runtime.h"

#define S_CONN_IN_MAX (MG_LAMBDA_PAYLOAD_MAX + 64u * 1024u)

/* --- the Runtime API (HTTP/1.1 subset) ------------------------------------------------------ */

static void s_respond(struct mg_lambda_conn *c, int status, const char *reason,
                      const char *extra_headers, struct mg_slice body)
{
    if (mg_buf_printf(&c->out,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "%s%s\r\n",
                      status, reason, body.len, extra_headers ? extra_headers : "",
                      c->close_after ? "Connection: close\r\n" : "") ||
        mg_buf_append_slice(&c->out, body))
        c->close_after = true;
}

static void s_respond_json(struct mg_lambda_conn *c, int status, const char *reason,
                           const char *json)
{
    s_respond(c, status, reason, NULL, mg_slice_cstr(json));
}

static const char *s_reason(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

/* A header value: printable ASCII only (no CR, LF or other control character). */
static bool s_header_safe(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e)
            return false;
    return true;
}

void mg_lambda_rtapi_assign(struct mg_lambda *L, struct mg_lambda_proc *p, struct mg_lambda_conn *c,
                            struct mg_lambda_inv *inv)
{
    struct mg_lambda_fn *fn = p->fn;
    p->inv = inv;
    p->state = MG_LAMBDA_P_BUSY;
    c->parked = false;
    inv->start_ns = mg_mono_ns();
    inv->deadline_ms = mg_now_ms() + (int64_t)fn->timeout_s * 1000;
    inv->init_phase = !p->initialized;
    p->initialized = true;
    char trace[96], hex[25];
    mg_random_chars(hex, 24, "0123456789abcdef");
    hex[24] = 0;
    snprintf(trace, sizeof(trace), "Root=1-%08llx-%s;Sampled=0",
             (unsigned long long)(mg_now() & 0xffffffffLL), hex);
    struct mg_buf h;
    mg_buf_init(&h, 64 * 1024);
    /* every value below is ours or validated; checked again so that none can end a header */
    bool safe = s_header_safe(inv->request_id) && s_header_safe(fn->arn) && s_header_safe(trace) &&
                (inv->client_context == NULL || s_header_safe(inv->client_context));
    enum mg_err e = safe ? MG_E_OK : MG_E_INVALID;
    if (!safe)
        MG_LOG(MG_LOG_ERROR, MG_SUB_LAMBDA,
               "function %s: invocation %s: a Runtime API header value is not printable ASCII; "
               "the event goes without headers",
               fn->name, inv->request_id);
    if (!e)
        e = mg_buf_printf(&h,
                          "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                          "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                          "Lambda-Runtime-Invoked-Function-Arn: %s\r\n"
                          "Lambda-Runtime-Trace-Id: %s\r\n",
                          inv->request_id, (long long)inv->deadline_ms, fn->arn, trace);
    if (!e && inv->client_context)
        e = mg_buf_printf(&h, "Lambda-Runtime-Client-Context: %s\r\n", inv->client_context);
    const char *hs = e ? NULL : mg_buf_cstr(&h);
    s_respond(c, 200, "OK", hs, mg_buf_slice(&inv->payload));
    mg_buf_cleanup(&h);
    mg_lambda_logf(fn, inv, "START RequestId: %s Version: $LATEST\n", inv->request_id);
    (void)L;
}

/* The error payload of /error and /init/error: the body when it is a JSON object with an
 * errorType, else one built from the Lambda-Runtime-Function-Error-Type header (hdr_type). */
static void s_error_payload(struct mg_lambda_inv *inv, struct mg_slice hdr_type,
                            struct mg_slice body)
{
    json_t *j = json_loadb((const char *)body.ptr, body.len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "errorType"));
    mg_buf_reset(&inv->result);
    if (json_is_object(j)) {
        if (mg_buf_append_slice(&inv->result, body))
            mg_buf_reset(&inv->result);
        snprintf(inv->error_type, sizeof(inv->error_type), "%s",
                 type           ? type
                 : hdr_type.len ? ""
                                : "Unhandled");
        if (type == NULL && hdr_type.len)
            snprintf(inv->error_type, sizeof(inv->error_type), MG_SLICE_FMT,
                     MG_SLICE_ARG(hdr_type));
    } else {
        snprintf(inv->error_type, sizeof(inv->error_type), MG_SLICE_FMT,
                 MG_SLICE_ARG(hdr_type.len ? hdr_type : MG_SLICE_LIT("Unhandled")));
        if (mg_buf_append_cstr(&inv->result, "{\"errorMessage\":\"") ||
            mg_buf_append_json_str(&inv->result, body) ||
            mg_buf_append_cstr(&inv->result, "\",\"errorType\":\"") ||
            mg_buf_append_json_str(&inv->result, mg_slice_cstr(inv->error_type)) ||
            mg_buf_append_cstr(&inv->result, "\"}"))
            mg_buf_reset(&inv->result);
    }
    json_decref(j);
    inv->outcome = MG_LAMBDA_FUNCTION_ERROR;
}

/* Handles one complete request. */
static void s_handle_request(struct mg_lambda *L, struct mg_lambda_proc *p,
                             struct mg_lambda_conn *c, const struct mg_rtapi_request *req,
                             struct mg_lambda_done *d)
{
    (void)L;
    struct mg_slice method = req->method, path = req->path, body = req->body;
    static const char pre[] = "/2018-06-01/runtime/";
    if (!mg_slice_starts_with(path, pre)) {
        s_respond_json(c, 404, "Not Found",
                       "{\"errorMessage\":\"not found\",\"errorType\":\"NotFound\"}");
        return;
    }
    struct mg_slice rest = mg_slice_sub(path, sizeof(pre) - 1, path.len);
    if (mg_slice_eq_cstr(rest, "invocation/next") && mg_slice_eq_cstr(method, "GET")) {
        c->parked = true;
        if (p->inv) {
            /* As Lambda does, a /next while an invocation is in flight waits for the next
             * event: the invocation in flight keeps running and may still be answered (or
             * time out); the process takes new work only once it has. */
            return;
        }
        if (!p->initialized)
            p->init_ms = (double)(mg_mono_ns() - p->spawned_ns) / 1e6;
        p->state = MG_LAMBDA_P_WAITING;
        p->idle_since_ms = mg_now_ms();
        return;
    }
    if (mg_slice_eq_cstr(rest, "init/error") && mg_slice_eq_cstr(method, "POST")) {
        struct mg_lambda_inv *inv = p->inv ? p->inv : mg_lambda_fn_pop(p->fn);
        if (inv) {
            if (inv->start_ns == 0) {
                inv->start_ns = mg_mono_ns();
                inv->init_phase = false;
                p->inv = inv;
                mg_lambda_logf(p->fn, inv, "START RequestId: %s Version: $LATEST\n",
                               inv->request_id);
            }
            s_error_payload(inv, req->error_type, body);
            mg_lambda_proc_finish(p, d, "\tStatus: error\tError Type: Runtime.InitError");
        }
        s_respond_json(c, 202, "Accepted", "{\"status\":\"OK\"}");
        p->retire = true;
        return;
    }
    static const char inv_pre[] = "invocation/";
    if (mg_slice_starts_with(rest, inv_pre) && mg_slice_eq_cstr(method, "POST")) {
        struct mg_slice tail = mg_slice_sub(rest, sizeof(inv_pre) - 1, rest.len);
        long slash = mg_slice_find(tail, '/');
        if (slash > 0) {
            struct mg_slice id = mg_slice_sub(tail, 0, (size_t)slash);
            struct mg_slice what = mg_slice_sub(tail, (size_t)slash + 1, tail.len);
            bool is_resp = mg_slice_eq_cstr(what, "response");
            bool is_err = mg_slice_eq_cstr(what, "error");
            if (is_resp || is_err) {
                if (p->inv == NULL || !mg_slice_eq_cstr(id, p->inv->request_id)) {
                    s_respond_json(c, 400, "Bad Request",
                                   "{\"errorMessage\":\"Invalid request ID\","
                                   "\"errorType\":\"InvalidRequestID\"}");
                    return;
                }
                struct mg_lambda_inv *inv = p->inv;
                const char *note = NULL;
                if (is_resp && body.len > MG_LAMBDA_PAYLOAD_MAX) {
                    char m[160];
                    snprintf(m, sizeof(m),
                             "Response payload size exceeded maximum allowed payload size (%u "
                             "bytes).",
                             MG_LAMBDA_PAYLOAD_MAX);
                    mg_buf_reset(&inv->result);
                    inv->outcome = MG_LAMBDA_FUNCTION_ERROR;
                    snprintf(inv->error_type, sizeof(inv->error_type),
                             "Function.ResponseSizeTooLarge");
                    if (mg_buf_printf(&inv->result,
                                      "{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}", m,
                                      inv->error_type))
                        mg_buf_reset(&inv->result);
                    s_respond_json(c, 413, "Payload Too Large",
                                   "{\"errorMessage\":\"Payload too large\","
                                   "\"errorType\":\"RequestEntityTooLarge\"}");
                    note = "\tStatus: error\tError Type: Function.ResponseSizeTooLarge";
                } else if (is_resp) {
                    mg_buf_reset(&inv->result);
                    if (mg_buf_append_slice(&inv->result, body))
                        mg_buf_reset(&inv->result);
                    inv->outcome = MG_LAMBDA_OK;
                    s_respond_json(c, 202, "Accepted", "{\"status\":\"OK\"}");
                } else {
                    s_error_payload(inv, req->error_type, body);
                    s_respond_json(c, 202, "Accepted", "{\"status\":\"OK\"}");
                }
                mg_lambda_proc_finish(p, d, note);
                p->state = MG_LAMBDA_P_READY;
                for (int i = 0; i < MG_LAMBDA_CONNS_MAX; i++) {
                    if (p->conns[i].fd >= 0 && p->conns[i].parked) {
                        /* a /next that came while the invocation was in flight */
                        p->state = MG_LAMBDA_P_WAITING;
                        p->idle_since_ms = mg_now_ms();
                    }
                }
                return;
            }
        }
    }
    s_respond_json(c, 404, "Not Found",
                   "{\"errorMessage\":\"Unknown Runtime API path\",\"errorType\":\"NotFound\"}");
}

/* Parses and handles every complete request buffered on c. */
static void s_conn_process(struct mg_lambda *L, struct mg_lambda_proc *p, struct mg_lambda_conn *c,
                           struct mg_lambda_done *d)
{
    /* after a refusal or a Connection: close, nothing more is read from the connection */
    while (c->fd >= 0 && !c->parked && !c->close_after && c->in.len) {
        struct mg_rtapi_request req;
        struct mg_buf body;
        mg_buf_init(&body, MG_RTAPI_BODY_MAX);
        enum mg_rtapi_status r = mg_lambda_rtapi_parse(mg_buf_slice(&c->in), &req, &body);
        if (r == MG_RTAPI_INCOMPLETE) {
            mg_buf_cleanup(&body);
            return;
        }
        if (r == MG_RTAPI_ERROR) {
            mg_buf_cleanup(&body);
            c->close_after = true;
            s_respond_json(c, req.status, s_reason(req.status), "{}");
            break;
        }
        if (req.close)
            c->close_after = true;
        s_handle_request(L, p, c, &req, d);
        mg_buf_cleanup(&body);
        /* drop the consumed request */
        mg_memmove(c->in.ptr, c->in.ptr + req.used, c->in.len - req.used);
        c->in.len -= req.used;
    }
    if (c->close_after)
        c->in.len = 0;
}

void mg_lambda_rtapi_read(struct mg_lambda *L, struct mg_lambda_proc *p, struct mg_lambda_conn *c,
                          struct mg_lambda_done *d)
{
    for (;;) {
        if (mg_buf_reserve(&c->in, 65536) != MG_E_OK) {
            mg_lambda_conn_close(c);
            return;
        }
        ssize_t r = read(c->fd, c->in.ptr + c->in.len, c->in.cap - c->in.len);
        if (r > 0) {
            c->in.len += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            mg_lambda_conn_close(c);
            if (p->state == MG_LAMBDA_P_WAITING) {
                bool any = false;
                for (int i = 0; i < MG_LAMBDA_CONNS_MAX; i++)
                    any |= p->conns[i].parked;
                if (!any)
                    p->state = MG_LAMBDA_P_READY;
            }
            return;
        }
        break;
    }
    s_conn_process(L, p, c, d);
}

void mg_lambda_rtapi_write(struct mg_lambda_conn *c)
{
    while (c->fd >= 0 && c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.ptr + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w <= 0) {
            mg_lambda_conn_close(c);
            return;
        }
        c->out_off += (size_t)w;
    }
    if (c->fd >= 0 && c->out_off == c->out.len) {
        mg_buf_reset(&c->out);
        c->out_off = 0;
        if (c->close_after)
            mg_lambda_conn_close(c);
    }
}

/* --- who is calling: the Runtime API answers only its own runtime --------------------------- *
 *
 * A listener on 127.0.0.1 is reachable by every local process (functions included: they share
 * the host's network). Every accepted connection is therefore traced to the process that holds
 * its other end: the kernel's socket table names the client socket's inode (sock_diag, or
 * /proc/net/tcp where netlink is not available), and that inode must be among the open files of
 * the runtime's own process tree (the shim and its descendants). Anything else is refused before
 * a byte of it is read. This needs no cooperation from the client, so every Runtime API client
 * works unchanged (our bootstraps, a provided.* bootstrap with curl, aws-lambda-ric). */

#define S_TREE_PROCS_MAX 256
#define S_TREE_FDS_MAX 65536

/* The client socket's inode from sock_diag (exact 4-tuple lookup); 0 when unknown. */
static unsigned long s_peer_inode_diag(const struct sockaddr_in *peer,
                                       const struct sockaddr_in *self)
{
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return 0;
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof(req));
    req.nlh.nlmsg_len = sizeof(req);
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.r.sdiag_family = AF_INET;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0u;
    /* the client's socket: its local end is our peer, its remote end is us */
    req.r.id.idiag_sport = peer->sin_port;
    req.r.id.idiag_dport = self->sin_port;
    req.r.id.idiag_src[0] = peer->sin_addr.s_addr;
    req.r.id.idiag_dst[0] = self->sin_addr.s_addr;
    req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    unsigned long inode = 0;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) ==
        (ssize_t)sizeof(req)) {
        long buf[2048];
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        if (n > 0 && NLMSG_OK(h, (size_t)n) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
            h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            if (m->id.idiag_sport == peer->sin_port && m->id.idiag_dport == self->sin_port &&
                m->id.idiag_src[0] == peer->sin_addr.s_addr &&
                m->id.idiag_dst[0] == self->sin_addr.s_addr)
                inode = m->idiag_inode;
        }
    }
    close(nl);
    return inode;
}

/* The same from /proc/net/tcp: "sl local rem st ... uid timeout inode", addresses as the kernel
 * prints them (%08X of the network-order word, %04X of the host-order port). */
static unsigned long s_peer_inode_proc(const struct sockaddr_in *peer,
                                       const struct sockaddr_in *self)
{
    FILE *f = fopen("/proc/net/tcp", "re");
    if (f == NULL)
        return 0;
    char want_local[32], want_rem[32], line[512];
    snprintf(want_local, sizeof(want_local), "%08X:%04X", (unsigned)peer->sin_addr.s_addr,
             (unsigned)ntohs(peer->sin_port));
    snprintf(want_rem, sizeof(want_rem), "%08X:%04X", (unsigned)self->sin_addr.s_addr,
             (unsigned)ntohs(self->sin_port));
    unsigned long inode = 0;
    while (inode == 0 && fgets(line, sizeof(line), f)) {
        /* "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ..." */
        struct mg_slice rest = mg_slice_cstr(line), w[10];
        size_t nw = 0;
        while (nw < 10) {
            while (rest.len && (rest.ptr[0] == ' ' || rest.ptr[0] == '\t'))
                rest = mg_slice_sub(rest, 1, rest.len);
            if (rest.len == 0)
                break;
            size_t k = 0;
            while (k < rest.len && rest.ptr[k] != ' ' && rest.ptr[k] != '\t' && rest.ptr[k] != '\n')
                k++;
            w[nw++] = mg_slice_sub(rest, 0, k);
            rest = mg_slice_sub(rest, k, rest.len);
        }
        uint64_t ino = 0;
        if (nw == 10 && mg_slice_eq_cstr(w[1], want_local) && mg_slice_eq_cstr(w[2], want_rem) &&
            mg_slice_to_u64(w[9], &ino) && ino <= ULONG_MAX)
            inode = (unsigned long)ino;
    }
    fclose(f);
    return inode;
}

/* Adds the children of every thread of pid to the queue. */
static void s_tree_children(pid_t pid, pid_t *q, size_t *qn)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && *qn < S_TREE_PROCS_MAX) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char cp[160];
        snprintf(cp, sizeof(cp), "/proc/%d/task/%.16s/children", (int)pid, de->d_name);
        FILE *f = fopen(cp, "re");
        if (f == NULL)
            continue;
        long child;
        while (*qn < S_TREE_PROCS_MAX && mg_read_long(f, &child))
            if (child > 0 && child <= INT_MAX)
                q[(*qn)++] = (int)child;
        fclose(f);
    }
    closedir(d);
}

/* Whether a process of the tree rooted at root has socket:[inode] open. */
static bool s_tree_holds(pid_t root, unsigned long inode)
{
    pid_t q[S_TREE_PROCS_MAX];
    size_t qn = 0, fds = 0;
    q[qn++] = root;
    char want[48];
    int wl = snprintf(want, sizeof(want), "socket:[%lu]", inode);
    for (size_t i = 0; i < qn; i++) {
        char path[96];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int)q[i]);
        DIR *d = opendir(path);
        if (d) {
            int dfd = dirfd(d);
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                    continue;
                if (++fds > S_TREE_FDS_MAX) {
                    closedir(d);
                    return false;
                }
                char target[64];
                ssize_t n = readlinkat(dfd, de->d_name, target, sizeof(target));
                if (n > 0 && mg_slice_eq(mg_slice_make(target, (size_t)n),
                                         mg_slice_make(want, (size_t)wl))) {
                    closedir(d);
                    return true;
                }
            }
            closedir(d);
        }
        s_tree_children(q[i], q, &qn);
    }
    return false;
}

/* Whether the connection fd comes from a process of p's runtime. */
static bool s_conn_is_runtime(const struct mg_lambda_proc *p, int fd)
{
    struct sockaddr_in peer = {0}, self = {0};
    socklen_t pl = sizeof(peer), sl = sizeof(self);
    if (p->pid <= 0 || p->reaped || getpeername(fd, (struct sockaddr *)&peer, &pl) != 0 ||
        getsockname(fd, (struct sockaddr *)&self, &sl) != 0 || peer.sin_family != AF_INET ||
        self.sin_family != AF_INET)
        return false;
    unsigned long inode = s_peer_inode_diag(&peer, &self);
    if (inode == 0)
        inode = s_peer_inode_proc(&peer, &self);
    return inode != 0 && s_tree_holds(p->pid, inode);
}

/* Answers a foreign connection 403 and closes it; nothing it sent is read as a request. */
static void s_refuse(struct mg_lambda_proc *p, int fd)
{
    static const char body[] = "{\"errorMessage\":\"This Runtime API endpoint serves only its own "
                               "runtime process.\",\"errorType\":\"AccessDeniedException\"}";
    char resp[512];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof(body) - 1, body);
    if (n > 0 && send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the connection is closed below either way */
    }
    shutdown(fd, SHUT_WR);
    /* read what already arrived, so that closing does not reset the answer away */
    char sink[4096];
    for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++) {
    }
    close(fd);
    if (!p->refused_logged) {
        p->refused_logged = true;
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
               "function %s: refused a Runtime API connection from a process that is not its "
               "runtime (further ones of this process are not logged)",
               p->fn->arn);
    }
}

void mg_lambda_rtapi_accept(struct mg_lambda_proc *p)
{
    for (int accepted = 0; accepted < 64; accepted++) {
        int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (!s_conn_is_runtime(p, fd)) {
            s_refuse(p, fd);
            continue;
        }
        int slot = -1;
        for (int i = 0; i < MG_LAMBDA_CONNS_MAX; i++)
            if (p->conns[i].fd < 0) {
                slot = i;
                break;
            }
        if (slot < 0) {
            close(fd);
            continue;
        }
        struct mg_lambda_conn *c = &p->conns[slot];
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        mg_buf_init(&c->in, S_CONN_IN_MAX);
        mg_buf_init(&c->out, S_CONN_IN_MAX + 64u * 1024u);
    }
}
