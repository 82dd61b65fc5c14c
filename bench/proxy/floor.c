// The floor a proxy can reach on this bench (issue 5): the least work that still answers wrk's
// requests the way run.sh measures them, to compare runway and nginx against. Not a server
// anyone should run: no header rewriting, no access log, no timeouts, no limits, no error
// handling beyond closing the connection; it trusts wrk's requests (one bodiless head per read).
//
//   floor proxy LISTEN_PORT UPSTREAM_PORT WORKERS   relay each request to 127.0.0.1:UPSTREAM_PORT
//                                                   verbatim on the client's own kept-alive
//                                                   upstream connection, and the Content-Length
//                                                   response back, byte for byte
//   floor static LISTEN_PORT FILE WORKERS           answer every request with FILE: the head with
//                                                   MSG_MORE, then one sendfile
//
// Each worker is a thread with its own epoll and its own SO_REUSEPORT listener (nginx's and
// runway's shape: one event loop per core). Per proxied request that is one recv and one send
// on each side, like runway and nginx; what is left out is everything in user space.
//
// Build: cc -O2 -pthread -o floor bench/proxy/floor.c (bench/proxy/floor.sh does it).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum { BUF = 16384 };

struct conn {
    int fd;            // this side's socket
    struct conn *peer; // proxy: the other side (client <-> upstream); static: NULL
    int is_upstream;
    int dead;          // closed: freed after the current batch of events (which may name it)
    struct conn *next_dead;
    size_t len;        // bytes held in buf (an upstream response being collected)
    char buf[BUF];
};

static int listen_port, upstream_port, file_fd;
static size_t file_size;
static char file_head[256];
static int file_head_len;
static int proxy_mode;

static int listener(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(listen_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 4096)) {
        perror("floor: listen");
        exit(1);
    }
    return fd;
}

static int connect_upstream(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(upstream_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

// Connections closed during a batch of epoll events: freed once the batch is done.
static __thread struct conn *dead_list;

static void bury(struct conn *c) {
    if (c->dead) return;
    c->dead = 1;
    close(c->fd);
    c->next_dead = dead_list;
    dead_list = c;
}

static void drop(struct conn *c) {
    if (c->peer) bury(c->peer);
    bury(c);
}

// A complete response in `c->buf`? (head + Content-Length bytes)
static int response_complete(struct conn *c) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - c->buf) + 4, body = 0;
    char *cl = memmem(c->buf, head, "ontent-length:", 14);
    if (cl) body = strtoul(cl + 14, NULL, 10);
    return c->len >= head + body;
}

static void on_readable(struct conn *c) {
    if (!c->is_upstream) {
        char req[BUF];
        ssize_t n = recv(c->fd, req, sizeof req, 0);
        if (n <= 0) {
            drop(c);
            return;
        }
        if (!proxy_mode) {
            off_t off = 0;
            send(c->fd, file_head, file_head_len, MSG_MORE);
            while (off < (off_t)file_size)
                if (sendfile(c->fd, file_fd, &off, file_size - off) <= 0) break;
            return;
        }
        c->peer->len = 0;
        send(c->peer->fd, req, n, 0);
        return;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, BUF - c->len, 0);
    if (n <= 0) {
        drop(c->peer);
        return;
    }
    c->len += n;
    if (response_complete(c)) send(c->peer->fd, c->buf, c->len, 0);
}

static void *worker(void *arg) {
    (void)arg;
    int ep = epoll_create1(0), lfd = listener(), one = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, events[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c) {
                if (!c->dead) on_readable(c);
                continue;
            }
            int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
            if (fd < 0) continue;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            struct conn *client = calloc(1, sizeof *client);
            client->fd = fd;
            if (proxy_mode) {
                int ufd = connect_upstream();
                if (ufd < 0) {
                    close(fd);
                    free(client);
                    continue;
                }
                struct conn *up = calloc(1, sizeof *up);
                up->fd = ufd;
                up->is_upstream = 1;
                up->peer = client;
                client->peer = up;
                struct epoll_event uev = {.events = EPOLLIN, .data.ptr = up};
                epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &uev);
            }
            struct epoll_event cev = {.events = EPOLLIN, .data.ptr = client};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        while (dead_list) {
            struct conn *c = dead_list;
            dead_list = c->next_dead;
            free(c);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5 || (strcmp(argv[1], "proxy") && strcmp(argv[1], "static"))) {
        fprintf(stderr, "usage: floor proxy LISTEN_PORT UPSTREAM_PORT WORKERS\n"
                        "       floor static LISTEN_PORT FILE WORKERS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); // wrk closes its connections at the end of each run
    proxy_mode = !strcmp(argv[1], "proxy");
    listen_port = atoi(argv[2]);
    if (proxy_mode) {
        upstream_port = atoi(argv[3]);
    } else {
        struct stat st;
        file_fd = open(argv[3], O_RDONLY);
        if (file_fd < 0 || fstat(file_fd, &st)) {
            perror(argv[3]);
            return 1;
        }
        file_size = (size_t)st.st_size;
        file_head_len = snprintf(file_head, sizeof file_head,
                                 "HTTP/1.1 200 OK\r\ncontent-type: text/javascript\r\n"
                                 "content-length: %zu\r\n\r\n",
                                 file_size);
    }
    int workers = atoi(argv[4]);
    pthread_t threads[64];
    for (int i = 0; i < workers && i < 64; i++) pthread_create(&threads[i], NULL, worker, NULL);
    printf("floor %s on 127.0.0.1:%d, %d workers\n", argv[1], listen_port, workers);
    fflush(stdout);
    pthread_join(threads[0], NULL);
    return 0;
}
