/* hdl_blast: a Handle protocol (RFC 3652) UDP load generator for bench/hdl_resolve.py.
 *
 * Reads pre-encoded request datagrams, keeps INFLIGHT of them outstanding against
 * 127.0.0.1:PORT for SECONDS seconds (or until MAX_ANSWERS answers), and prints the
 * answers per second. Each send gets a fresh 4-byte request id (envelope offset 8), so
 * an answer is counted only when its request id is that of an outstanding request and its
 * response code (bytes 24..27, big-endian) is 1 (success); other codes count as "bad".
 * A request unanswered after 200 ms counts as lost and its slot sends a new one.
 * Loopback only; non-blocking socket, recvmmsg/sendmmsg in batches of 64.
 *
 * Usage: hdl_blast PORT REQUESTS_FILE INFLIGHT SECONDS [MAX_ANSWERS]
 *   REQUESTS_FILE: records of a 2-byte big-endian length and that many request bytes.
 * Prints one line: answers=N seconds=T rate=R lost=L bad=B late=S
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST 512
#define MAX_REQUESTS 4096
#define MAX_INFLIGHT 4096
#define BATCH 64
#define ANSWER_BUF 2048
#define LOST_NS 200000000ULL
#define DRAIN_NS 200000000ULL

struct slot {
    uint32_t gen;       /* requests this slot has issued */
    uint32_t id;        /* request id of the outstanding request */
    int live;           /* waiting for an answer */
    int queued;         /* in the send queue */
    uint64_t sent;      /* when issued (ns) */
    size_t len;
    unsigned char buf[MAX_REQUEST];
};

static unsigned char *requests[MAX_REQUESTS];
static size_t request_len[MAX_REQUESTS];
static size_t nrequests, next_request;
static struct slot *slots;
static uint32_t inflight;
static uint32_t *queue; /* ring of slot numbers waiting to be sent */
static size_t qhead, qlen;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24;
    p[1] = (v >> 16) & 0xFF;
    p[2] = (v >> 8) & 0xFF;
    p[3] = v & 0xFF;
}

/* Give slot i a new request (next in rotation, a fresh id) and queue it for sending. */
static void issue(uint32_t i, uint64_t now) {
    struct slot *s = &slots[i];
    size_t r = next_request++ % nrequests;
    s->gen++;
    s->id = s->gen * inflight + i; /* id % inflight == slot */
    s->len = request_len[r];
    memcpy(s->buf, requests[r], s->len);
    put_be32(s->buf + 8, s->id);
    s->live = 1;
    s->sent = now;
    if (!s->queued) {
        s->queued = 1;
        queue[(qhead + qlen) % inflight] = i;
        qlen++;
    }
}

static void flush(int fd) {
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    while (qlen > 0) {
        int k = 0;
        for (; k < BATCH && (size_t)k < qlen; k++) {
            struct slot *s = &slots[queue[(qhead + k) % inflight]];
            iov[k].iov_base = s->buf;
            iov[k].iov_len = s->len;
            memset(&msgs[k], 0, sizeof msgs[k]);
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
        }
        int sent = sendmmsg(fd, msgs, k, MSG_DONTWAIT);
        if (sent <= 0)
            return; /* EAGAIN/ENOBUFS/ECONNREFUSED: retry later; lost ones time out */
        for (int j = 0; j < sent; j++) {
            slots[queue[qhead]].queued = 0;
            qhead = (qhead + 1) % inflight;
            qlen--;
        }
    }
}

static int load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    unsigned char head[2];
    while (nrequests < MAX_REQUESTS && fread(head, 1, 2, f) == 2) {
        size_t n = ((size_t)head[0] << 8) | head[1];
        if (n < 44 || n > MAX_REQUEST)
            break;
        unsigned char *buf = malloc(n);
        if (buf == NULL || fread(buf, 1, n, f) != n)
            break;
        requests[nrequests] = buf;
        request_len[nrequests++] = n;
    }
    fclose(f);
    return nrequests > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s PORT REQUESTS_FILE INFLIGHT SECONDS [MAX_ANSWERS]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    long want = atol(argv[3]);
    double seconds = atof(argv[4]);
    unsigned long long max_answers = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
    if (port <= 0 || port > 65535 || want < 1 || want > MAX_INFLIGHT || seconds <= 0 ||
        seconds > 600) {
        fprintf(stderr, "bad arguments (INFLIGHT 1..%d, SECONDS up to 600)\n", MAX_INFLIGHT);
        return 2;
    }
    inflight = (uint32_t)want;
    if (load(argv[2]) < 0) {
        fprintf(stderr, "no requests read from %s\n", argv[2]);
        return 2;
    }
    slots = calloc(inflight, sizeof *slots);
    queue = calloc(inflight, sizeof *queue);
    if (slots == NULL || queue == NULL)
        return 2;

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) {
        perror("connect");
        return 1;
    }

    static unsigned char answers_buf[BATCH][ANSWER_BUF];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    unsigned long long answers = 0, bad = 0, lost = 0, late = 0;
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), stop = end;
    uint64_t last_scan = start;
    int running = 1;
    for (uint32_t i = 0; i < inflight; i++)
        issue(i, start);
    flush(fd);

    for (;;) {
        uint64_t now = now_ns();
        if (running && (now >= end || (max_answers && answers >= max_answers))) {
            running = 0;
            stop = now;
        }
        if (!running) {
            int waiting = 0;
            for (uint32_t i = 0; i < inflight && !waiting; i++)
                waiting = slots[i].live;
            if (!waiting || now >= stop + DRAIN_NS)
                break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN | (qlen ? POLLOUT : 0)};
        poll(&p, 1, 5);
        for (;;) {
            for (int k = 0; k < BATCH; k++) {
                iov[k].iov_base = answers_buf[k];
                iov[k].iov_len = ANSWER_BUF;
                memset(&msgs[k], 0, sizeof msgs[k]);
                msgs[k].msg_hdr.msg_iov = &iov[k];
                msgs[k].msg_hdr.msg_iovlen = 1;
            }
            int got = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
            if (got <= 0)
                break; /* EAGAIN, or ECONNREFUSED while nobody listens */
            now = now_ns();
            for (int k = 0; k < got; k++) {
                const unsigned char *a = answers_buf[k];
                if (msgs[k].msg_len < 28)
                    continue;
                uint32_t id = be32(a + 8), i = id % inflight;
                if (!slots[i].live || slots[i].id != id) {
                    late++;
                    continue;
                }
                slots[i].live = 0;
                if (be32(a + 24) == 1) {
                    if (running)
                        answers++;
                } else {
                    bad++;
                }
                if (running)
                    issue(i, now);
            }
        }
        if (now - last_scan > 20000000ULL) {
            last_scan = now;
            for (uint32_t i = 0; i < inflight; i++) {
                if (slots[i].live && now - slots[i].sent > LOST_NS) {
                    lost++;
                    slots[i].live = 0;
                    if (running)
                        issue(i, now);
                }
            }
        }
        if (running)
            flush(fd);
    }
    for (uint32_t i = 0; i < inflight; i++)
        lost += slots[i].live;
    double elapsed = (stop - start) / 1e9;
    printf("answers=%llu seconds=%.3f rate=%.1f lost=%llu bad=%llu late=%llu\n", answers, elapsed,
           answers / elapsed, lost, bad, late);
    close(fd);
    return 0;
}
