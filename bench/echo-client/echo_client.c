/*
 * A lean echo load client: the same protocol and the same measurement as ../shared/bench/node/echo_client.mjs,
 * on one thread with epoll, so that the client spends as little CPU per request as the kernel allows and the
 * server's own cost decides requests/s (the Node client took a whole core at ~70k requests/s on two cores).
 *
 * Usage: echo_client PORT [CONNS=50] [MSGS=20000] [SIZE=64] [TIMEOUT_S=120]
 * Each connection sends MSGS messages of SIZE bytes, one at a time (request/response): it sends the next only
 * after the whole previous echo has come back. Loopback only. Prints one JSON line as the Node client does, plus
 * the client's own CPU seconds. Time runs from before the first connect to the last echo, as in the Node client.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    long sent;     /* messages sent */
    long got;      /* bytes received */
    int connected;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "echo client: %s: %s\n", what, strerror(errno));
    exit(2);
}

static long arg(int argc, char **argv, int i, long def) {
    if (argc <= i) return def;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end != '\0' || v <= 0) {
        fprintf(stderr, "echo client: argument %d must be a positive integer, got '%s'\n", i, argv[i]);
        exit(2);
    }
    return v;
}

/* Sends one whole message; the socket buffer always has room for one small message with one outstanding. */
static void send_msg(struct conn *c, const char *payload, long size) {
    long off = 0;
    while (off < size) {
        ssize_t n = send(c->fd, payload + off, size - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { struct timespec ts = {0, 1000}; nanosleep(&ts, NULL); continue; }
            die("send");
        }
        off += n;
    }
    c->sent++;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: echo_client PORT [CONNS=50] [MSGS=20000] [SIZE=64] [TIMEOUT_S=120]\n");
        return 2;
    }
    long port = arg(argc, argv, 1, 0), conns = arg(argc, argv, 2, 50), msgs = arg(argc, argv, 3, 20000);
    long size = arg(argc, argv, 4, 64), timeout_s = arg(argc, argv, 5, 120);
    if (port > 65535) { fprintf(stderr, "echo client: port %ld is out of range\n", port); return 2; }

    char *payload = malloc(size);
    char *buf = malloc(65536);
    struct conn *cs = calloc(conns, sizeof *cs);
    if (!payload || !buf || !cs) die("malloc");
    memset(payload, 'a', size);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    double t0 = now();
    for (long i = 0; i < conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) die("connect");
        cs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &cs[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }

    long done = 0;
    struct epoll_event evs[256];
    while (done < conns) {
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        if (now() - t0 > timeout_s) { fprintf(stderr, "echo client timeout\n"); return 3; }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                errno = err ? err : ECONNRESET;
                die("connection");
            }
            if (!c->connected && (evs[i].events & EPOLLOUT)) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) { errno = err; die("connect"); }
                c->connected = 1;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
                send_msg(c, payload, size);
            }
            if (!(evs[i].events & EPOLLIN)) continue;
            for (;;) {
                ssize_t r = recv(c->fd, buf, 65536, 0);
                if (r < 0) {
                    if (errno == EINTR) continue;
                    if (errno == EAGAIN) break;
                    die("recv");
                }
                if (r == 0) { fprintf(stderr, "echo client: the server closed a connection early\n"); return 2; }
                c->got += r;
                if (c->got < c->sent * size) continue;
                if (c->sent == msgs) {
                    shutdown(c->fd, SHUT_WR);
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    done++;
                    break;
                }
                send_msg(c, payload, size);
                break; /* one outstanding request: nothing more can be there yet */
            }
        }
    }
    double dt = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    long total = conns * msgs;
    printf("{\"conns\": %ld, \"msgs\": %ld, \"size\": %ld, \"requests\": %ld, \"seconds\": %.6f, \"req_per_s\": %.1f, "
           "\"client_cpu_s\": %.3f}\n", conns, msgs, size, total, dt, total / dt, cpu);
    for (long i = 0; i < conns; i++) close(cs[i].fd);
    return 0;
}
