/*
 * The reference MJPEG fan-out for `make bench`: the least a server can do.
 *
 * Reads JPEG frames from stdin (e.g. `vigil fake-camera ... | direct_writer
 * PORT [ADDRESS]`) and serves them as multipart MJPEG to every client on
 * ADDRESS:PORT (127.0.0.1 by default)
 * from one thread: epoll, non-blocking sockets, and one writev of the shared
 * part header, JPEG and trailer per frame and client. Like Vigil, a client
 * still writing a frame gets only the newest one when it is done (older
 * ones are skipped), so slow clients cost no memory. Nothing else: no HTTP
 * parsing beyond waiting for the end of the request head, no limits, no
 * logging. Its CPU and latency are what Vigil's fan-out is measured against.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_CLIENTS 4096
#define MAX_FRAME (8 << 20)

static const char response_head[] =
    "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=vigilframe\r\n"
    "Cache-Control: no-cache\r\nConnection: close\r\n\r\n--vigilframe\r\n";
static const char trailer[] = "\r\n--vigilframe\r\n";

/* One frame, shared by every client writing it; freed by the last one. */
struct frame {
    int refs;
    char header[160];
    size_t header_len;
    unsigned char *jpeg;
    size_t jpeg_len;
};

struct client {
    int fd;
    int streaming;          /* request head seen, response head sent */
    char request_tail[4];   /* last bytes of the request, to find CRLFCRLF */
    struct frame *writing;  /* frame being written, or NULL */
    size_t offset;          /* bytes of it already written (head included) */
    struct frame *next;     /* newest frame waiting, or NULL */
    size_t head_left;       /* response head bytes still to write */
};

static struct client *clients[MAX_CLIENTS];
static int epoll_fd;
static struct frame *latest;

static void frame_release(struct frame *frame) {
    if (frame && --frame->refs == 0) {
        free(frame->jpeg);
        free(frame);
    }
}

static void client_close(struct client *client) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, client->fd, NULL);
    close(client->fd);
    frame_release(client->writing);
    frame_release(client->next);
    clients[client->fd] = NULL;
    free(client);
}

/* Writes what the client has pending; returns -1 when it is gone. */
static int client_flush(struct client *client) {
    for (;;) {
        if (client->head_left > 0) {
            const char *head = response_head + sizeof(response_head) - 1 - client->head_left;
            ssize_t n = write(client->fd, head, client->head_left);
            if (n < 0) return errno == EAGAIN ? 0 : -1;
            client->head_left -= (size_t)n;
            continue;
        }
        if (!client->writing) {
            if (!client->next) return 0;
            client->writing = client->next;
            client->next = NULL;
            client->offset = 0;
        }
        struct frame *frame = client->writing;
        size_t parts[3] = {frame->header_len, frame->jpeg_len, sizeof(trailer) - 1};
        const void *bases[3] = {frame->header, frame->jpeg, trailer};
        struct iovec iov[3];
        int count = 0;
        size_t skip = client->offset, total = 0;
        for (int i = 0; i < 3; i++) {
            total += parts[i];
            if (skip >= parts[i]) {
                skip -= parts[i];
                continue;
            }
            iov[count].iov_base = (char *)bases[i] + skip;
            iov[count].iov_len = parts[i] - skip;
            skip = 0;
            count++;
        }
        ssize_t n = writev(client->fd, iov, count);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        client->offset += (size_t)n;
        if (client->offset < total) return 0; /* the socket is full: wait for EPOLLOUT */
        frame_release(frame);
        client->writing = NULL;
    }
}

static void client_offer(struct client *client, struct frame *frame) {
    frame->refs++;
    frame_release(client->next);
    client->next = frame;
    if (!client->writing && client->head_left == 0 && client_flush(client) < 0) client_close(client);
}

static void publish(const unsigned char *jpeg, size_t length) {
    struct frame *frame = calloc(1, sizeof(*frame));
    frame->refs = 1;
    frame->jpeg = malloc(length);
    memcpy(frame->jpeg, jpeg, length);
    frame->jpeg_len = length;
    struct timeval now;
    gettimeofday(&now, NULL);
    frame->header_len = (size_t)snprintf(frame->header, sizeof(frame->header),
        "Content-Type: image/jpeg\r\nContent-Length: %zu\r\nX-Timestamp: %ld.%06ld\r\n\r\n", length,
        (long)now.tv_sec, (long)now.tv_usec);
    for (int fd = 0; fd < MAX_CLIENTS; fd++) {
        if (clients[fd] && clients[fd]->streaming) client_offer(clients[fd], frame);
    }
    frame_release(latest);
    latest = frame;
}

/* Input framing: SOI, marker segments skipped by length, then entropy-coded
 * data scanned for EOI (0xFF is followed by 0x00 or a restart marker there). */
static unsigned char input[MAX_FRAME * 2];
static size_t input_len;

static void consume_input(void) {
    size_t start = 0;
    for (;;) {
        while (start + 1 < input_len && !(input[start] == 0xFF && input[start + 1] == 0xD8)) start++;
        if (start + 1 >= input_len) break;
        size_t pos = start + 2, end = 0;
        int complete = 0;
        while (pos + 4 <= input_len) {
            if (input[pos] != 0xFF) { pos++; continue; }
            unsigned char marker = input[pos + 1];
            if (marker == 0xFF) { pos++; continue; }
            size_t length = ((size_t)input[pos + 2] << 8) | input[pos + 3];
            if (marker != 0xDA) { pos += 2 + length; continue; }
            pos += 2 + length;
            while (pos + 1 < input_len) {
                if (input[pos] == 0xFF && input[pos + 1] == 0xD9) { end = pos + 2; complete = 1; break; }
                pos++;
            }
            break;
        }
        if (!complete) break;
        publish(input + start, end - start);
        start = end;
    }
    if (start > 0) {
        memmove(input, input + start, input_len - start);
        input_len -= start;
    }
    if (input_len == sizeof(input)) input_len = 0; /* garbage: start over */
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: fake-camera ... | %s PORT [ADDRESS]\n", argv[0]);
        return 2;
    }
    const char *host = argc == 3 ? argv[2] : "127.0.0.1";
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        fprintf(stderr, "not an IPv4 address: %s\n", host);
        return 2;
    }
    if (bind(listener, (struct sockaddr *)&address, sizeof(address)) < 0 || listen(listener, 1024) < 0) {
        perror("listen");
        return 1;
    }
    fcntl(0, F_SETFL, O_NONBLOCK);
    epoll_fd = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &event);
    event.data.fd = 0;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, 0, &event);
    socklen_t length = sizeof(address);
    getsockname(listener, (struct sockaddr *)&address, &length);
    fprintf(stderr, "listening on http://%s:%d\n", host, ntohs(address.sin_port)); /* PORT 0: any free one */
    struct epoll_event events[256];
    for (;;) {
        int ready = epoll_wait(epoll_fd, events, 256, -1);
        for (int i = 0; i < ready; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client_fd;
                while ((client_fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (client_fd >= MAX_CLIENTS) { close(client_fd); continue; }
                    struct client *client = calloc(1, sizeof(*client));
                    client->fd = client_fd;
                    clients[client_fd] = client;
                    struct epoll_event client_event = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.fd = client_fd};
                    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, client_fd, &client_event);
                }
            } else if (fd == 0) {
                ssize_t n;
                while ((n = read(0, input + input_len, sizeof(input) - input_len)) > 0) {
                    input_len += (size_t)n;
                    consume_input();
                }
                if (n == 0) return 0; /* the camera is gone */
            } else if (clients[fd]) {
                struct client *client = clients[fd];
                if ((events[i].events & EPOLLIN) && !client->streaming) {
                    char buffer[4096];
                    ssize_t n;
                    while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
                        for (ssize_t j = 0; j < n; j++) {
                            memmove(client->request_tail, client->request_tail + 1, 3);
                            client->request_tail[3] = buffer[j];
                            if (memcmp(client->request_tail, "\r\n\r\n", 4) == 0 && !client->streaming) {
                                client->streaming = 1;
                                client->head_left = sizeof(response_head) - 1;
                            }
                        }
                    }
                    if (n == 0) { client_close(client); continue; }
                    if (client->streaming && latest) {
                        latest->refs++;
                        client->next = latest;
                    }
                }
                if (events[i].events & (EPOLLERR | EPOLLHUP)) { client_close(client); continue; }
                if (client->streaming && client_flush(client) < 0) client_close(client);
            }
        }
    }
}
