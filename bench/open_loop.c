/* Open-loop HTTP/1.1 load generator for bench/read_load_bench.py (built by it with cc).
 *
 * Usage: open_loop PORT RATE SECONDS CONNECTIONS GRACE_S PATHS_FILE SEED [RT_PRIORITY]
 *
 * Request i is due at start + i / RATE and goes out on the first idle keep-alive
 * connection to 127.0.0.1:PORT (waiting in order for one when all are busy); its latency
 * runs from its due time to the end of its answer, so a slow server cannot hide
 * queueing (the coordinated-omission trap of closed-loop tools). Due times are kept by
 * a timerfd (nanosecond resolution, not the millisecond of an event loop's timers), so
 * the generator adds little of its own; it costs tens of microseconds of CPU a request,
 * most of them the kernel's loopback TCP (epoll_pwait2's own timeout instead of the
 * timerfd saved no CPU: 63-69 against 57-62 us a request, interleaved, load 18).
 * Requests not answered GRACE_S seconds after the last was due are counted unfinished.
 *
 * Its own share of a latency is shown apart: each request's LATE_NS is how late the
 * generator woke for it (timer expiry and scheduling), before any server work; its
 * timer slack is 1 ns (not the 50 us default). RT_PRIORITY > 0 runs it SCHED_FIFO at
 * that priority (root or CAP_SYS_NICE; refused: it runs as it is and says "rt 0"), so
 * on a loaded machine its own wake-ups do not queue behind other processes.
 *
 * Prints: "sent_s S" (the last request was due), "elapsed_s E" (the last answer came),
 * "cpu_s C" (its own CPU time), "unfinished N", "rt P" (the FIFO priority it got, 0:
 * none), then one "STATUS LATENCY_NS LATE_NS" line per answered request. Linux only
 * (epoll, timerfd). Paths: one a line, picked at random (xorshift seeded with SEED).
 * Every connection first answers one warm-up request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF 262144

typedef struct {
    int fd;
    int busy;
    int64_t due;
    int64_t late;
    size_t len;
    char buf[BUF];
} conn_t;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static uint64_t rng_state;
static uint64_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static char **requests;
static size_t *request_lens;
static size_t n_paths;

static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            die("send");
        }
        data += n;
        len -= (size_t)n;
    }
}

/* One whole answer at the start of c->buf: its total length and status, else 0. */
static size_t parse_answer(conn_t *c, int *status) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (end == NULL) return 0;
    size_t head = (size_t)(end - c->buf) + 4;
    size_t body = 0;
    for (char *p = c->buf; p < end; p++) {
        if ((*p == 'c' || *p == 'C') && (size_t)(end - p) > 15
            && strncasecmp(p, "content-length:", 15) == 0) {
            body = (size_t)strtoul(p + 15, NULL, 10);
            break;
        }
    }
    if (c->len < head + body) return 0;
    *status = atoi(c->buf + 9);
    return head + body;
}

int main(int argc, char **argv) {
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: open_loop PORT RATE SECONDS CONNECTIONS GRACE_S PATHS SEED"
                        " [RT_PRIORITY]\n");
        return 2;
    }
    int rt = argc == 9 ? atoi(argv[8]) : 0;
    if (rt > 0) {
        struct sched_param param = {.sched_priority = rt};
        if (sched_setscheduler(0, SCHED_FIFO, &param) != 0) rt = 0;
    }
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int port = atoi(argv[1]);
    double rate = atof(argv[2]), seconds = atof(argv[3]), grace = atof(argv[5]);
    int n_conns = atoi(argv[4]);
    rng_state = (uint64_t)atoll(argv[7]) * 2654435761ULL + 1;
    long total = (long)(rate * seconds);
    if (port <= 0 || rate <= 0 || total <= 0 || n_conns <= 0 || grace < 0) {
        fprintf(stderr, "open_loop: bad arguments\n");
        return 2;
    }

    FILE *paths = fopen(argv[6], "r");
    if (paths == NULL) die("paths");
    size_t cap = 1024;
    requests = malloc(cap * sizeof *requests);
    request_lens = malloc(cap * sizeof *request_lens);
    char line[4096];
    while (fgets(line, sizeof line, paths) != NULL) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == 0) continue;
        if (n_paths == cap) {
            cap *= 2;
            requests = realloc(requests, cap * sizeof *requests);
            request_lens = realloc(request_lens, cap * sizeof *request_lens);
        }
        char *req = malloc(strlen(line) + 64);
        request_lens[n_paths] = (size_t)sprintf(req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                                                line);
        requests[n_paths++] = req;
    }
    fclose(paths);
    if (n_paths == 0) {
        fprintf(stderr, "open_loop: no paths\n");
        return 2;
    }

    int ep = epoll_create1(0);
    conn_t *conns = calloc((size_t)n_conns, sizeof *conns);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n_conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[i].fd = fd;
        /* Warm-up: one blocking request per connection. */
        send_all(fd, requests[i % n_paths], request_lens[i % n_paths]);
        int status = 0;
        while (parse_answer(&conns[i], &status) == 0) {
            ssize_t n = recv(fd, conns[i].buf + conns[i].len, BUF - conns[i].len, 0);
            if (n <= 0) die("warm-up recv");
            conns[i].len += (size_t)n;
        }
        conns[i].len = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (tfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) < 0) die("timerfd");

    /* Idle connections in a ring, used in turn: none stays idle long enough for the
     * server's keep-alive timeout (one that does is reconnected). */
    int *idle = malloc((size_t)n_conns * sizeof *idle);
    int idle_head = 0, n_idle = n_conns;
    for (int i = 0; i < n_conns; i++) idle[i] = i;
    long *queue = malloc((size_t)total * sizeof *queue); /* due indexes waiting for a conn */
    int64_t *woke = malloc((size_t)total * sizeof *woke); /* when the timer fired for one */
    long q_head = 0, q_tail = 0;
    int *statuses = malloc((size_t)total * sizeof *statuses);
    int64_t *latencies = malloc((size_t)total * sizeof *latencies);
    int64_t *lates = malloc((size_t)total * sizeof *lates);
    long answered = 0, next = 0;
    size_t *chosen = malloc((size_t)total * sizeof *chosen);
    for (long i = 0; i < total; i++) chosen[i] = (size_t)(next_random() % n_paths);

    const int64_t start = now_ns() + 50000000LL;
    const double step = 1e9 / rate;
    const int64_t last_due = start + (int64_t)((double)(total - 1) * step);
    const int64_t give_up = last_due + (int64_t)(grace * 1e9);
    int64_t sent_at_end = 0;

#define DUE(i) (start + (int64_t)((double)(i) * step))
#define DISPATCH(c, i)                                                  \
    do {                                                                \
        (c)->busy = 1;                                                  \
        (c)->due = DUE(i);                                              \
        (c)->late = woke[i] - (c)->due;                                 \
        send_all((c)->fd, requests[chosen[i]], request_lens[chosen[i]]); \
    } while (0)

    struct itimerspec its = {0};
    its.it_value.tv_sec = start / 1000000000LL;
    its.it_value.tv_nsec = start % 1000000000LL;
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);

    struct epoll_event events[256];
    while (answered < total) {
        int64_t now = now_ns();
        if (next >= total && now >= give_up) break;
        int timeout_ms = next >= total ? (int)((give_up - now) / 1000000LL) + 1 : -1;
        int n = epoll_wait(ep, events, 256, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int e = 0; e < n; e++) {
            uint32_t id = events[e].data.u32;
            if (id == UINT32_MAX) {
                uint64_t ticks;
                if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN) die("timerfd read");
                now = now_ns();
                while (next < total && DUE(next) <= now) {
                    woke[next] = now;
                    if (n_idle > 0) {
                        conn_t *c = &conns[idle[idle_head]];
                        idle_head = (idle_head + 1) % n_conns;
                        n_idle--;
                        DISPATCH(c, next);
                    } else {
                        queue[q_tail++] = next;
                    }
                    next++;
                }
                if (next < total) {
                    int64_t due = DUE(next);
                    its.it_value.tv_sec = due / 1000000000LL;
                    its.it_value.tv_nsec = due % 1000000000LL;
                    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
                } else if (sent_at_end == 0) {
                    sent_at_end = now_ns();
                }
                continue;
            }
            conn_t *c = &conns[id];
            ssize_t got = recv(c->fd, c->buf + c->len, BUF - c->len, 0);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                if (c->busy) {
                    fprintf(stderr, "open_loop: connection closed by the server\n");
                    return 3;
                }
                /* An idle connection the server closed (keep-alive timeout): again. */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = socket(AF_INET, SOCK_STREAM, 0);
                if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0)
                    die("reconnect");
                int one = 1;
                setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c->len = 0;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = id};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
                continue;
            }
            c->len += (size_t)got;
            int status = 0;
            size_t used;
            while (c->busy && (used = parse_answer(c, &status)) > 0) {
                int64_t done = now_ns();
                statuses[answered] = status;
                lates[answered] = c->late;
                latencies[answered++] = done - c->due;
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
                c->busy = 0;
                if (q_head < q_tail) {
                    DISPATCH(c, queue[q_head]);
                    q_head++;
                } else {
                    idle[(idle_head + n_idle) % n_conns] = (int)id;
                    n_idle++;
                }
            }
        }
    }
    const int64_t ended = now_ns();
    if (sent_at_end == 0) sent_at_end = ended;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
                 + (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    printf("sent_s %.6f\nelapsed_s %.6f\ncpu_s %.6f\nunfinished %ld\nrt %d\n",
           (double)(sent_at_end - start) / 1e9, (double)(ended - start) / 1e9, cpu,
           total - answered, rt);
    for (long i = 0; i < answered; i++)
        printf("%d %lld %lld\n", statuses[i], (long long)latencies[i], (long long)lates[i]);
    return 0;
}
