/* flood: send one protocol-112 packet over and over, paced to a rate, from a lab host.
 *
 *   flood IFNAME SRC DST TTL PAYLOAD_HEX PPS SECONDS
 *
 * bench/chaos.py builds the VRRP payload (garbage, a valid advert, another VRID) in Python and
 * hands it over as hex; this program only repeats it, because Python cannot send 50k packets/s
 * on a busy 2-core machine. IPv4: IP_HDRINCL with keepalived's header (TOS 0xc0, TTL as given).
 * IPv6 (DST has a colon): a raw protocol-112 socket bound to SRC (a link-local address, as VRRPv3
 * sends from) on IFNAME, hop limit TTL, traffic class 0xc0; the kernel leaves the payload and its
 * checksum alone (no IPV6_CHECKSUM), so a wrong checksum stays wrong. Batches of 64 with sendmmsg,
 * paced per batch against CLOCK_MONOTONIC. Prints one JSON line: packets sent, send errors,
 * seconds. Run it only inside a lab namespace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned short csum(const unsigned char *p, size_t n) {
    unsigned long s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
    if (n & 1) s += p[n - 1] << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (unsigned short)~s;
}

/* Send `len` bytes at `buf` to `to` over `fd` at `pps` for `seconds`; prints the JSON line. */
static int pump(int fd, void *to, socklen_t tolen, unsigned char *buf, size_t len, double pps, double seconds) {
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct mmsghdr msgs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_name = to; msgs[i].msg_hdr.msg_namelen = tolen;
        msgs[i].msg_hdr.msg_iov = &iov; msgs[i].msg_hdr.msg_iovlen = 1;
    }
    long sent = 0, errors = 0;
    double t0 = now(), end = t0 + seconds;
    while (1) {
        double t = now();
        if (t >= end) break;
        double due = t0 + (sent + errors) / pps;  /* where we should be */
        if (due > t) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)((due - t) * 1e9)};
            nanosleep(&ts, NULL);
            continue;
        }
        int n = sendmmsg(fd, msgs, BATCH, 0);
        if (n < 0) { errors += BATCH; if (errno != ENOBUFS && errno != EAGAIN) { perror("sendmmsg"); break; } }
        else sent += n;
    }
    printf("{\"sent\": %ld, \"errors\": %ld, \"seconds\": %.3f}\n", sent, errors, now() - t0);
    return 0;
}

static int flood6(const char *ifname, const char *srcs, const char *dsts, int hops,
                  unsigned char *payload, size_t plen, double pps, double seconds) {
    struct sockaddr_in6 me = {.sin6_family = AF_INET6}, to = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET6, srcs, &me.sin6_addr) != 1 || inet_pton(AF_INET6, dsts, &to.sin6_addr) != 1) return 2;
    unsigned idx = if_nametoindex(ifname);
    if (!idx) { perror("if_nametoindex"); return 1; }
    me.sin6_scope_id = to.sin6_scope_id = idx;
    int fd = socket(AF_INET6, SOCK_RAW, 112);
    if (fd < 0) { perror("socket"); return 1; }
    int tclass = 0xc0;
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname)) < 0
        || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0
        || setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) < 0
        || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) < 0
        || setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass) < 0
        || bind(fd, (struct sockaddr *)&me, sizeof me) < 0) { perror("ipv6 socket setup"); return 1; }
    return pump(fd, &to, sizeof to, payload, plen, pps, seconds);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s IFNAME SRC DST TTL PAYLOAD_HEX PPS SECONDS\n", argv[0]);
        return 2;
    }
    const char *ifname = argv[1];
    int ttl = atoi(argv[4]);
    const char *hex = argv[5];
    double pps = atof(argv[6]), seconds = atof(argv[7]);
    size_t plen = strlen(hex) / 2;
    unsigned char pkt[2048];
    if (plen + 20 > sizeof pkt) return 2;
    for (size_t i = 0; i < plen; i++) sscanf(hex + 2 * i, "%2hhx", &pkt[20 + i]);
    if (strchr(argv[3], ':')) return flood6(ifname, argv[2], argv[3], ttl, pkt + 20, plen, pps, seconds);
    struct in_addr src, dst;
    if (!inet_aton(argv[2], &src) || !inet_aton(argv[3], &dst)) return 2;
    struct iphdr *ip = (struct iphdr *)pkt;
    memset(ip, 0, 20);
    ip->version = 4; ip->ihl = 5; ip->tos = 0xc0; ip->tot_len = htons(20 + plen);
    ip->ttl = ttl; ip->protocol = 112; ip->saddr = src.s_addr; ip->daddr = dst.s_addr;
    ip->check = htons(csum(pkt, 20));

    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) { perror("socket"); return 1; }
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname)) < 0) { perror("bind"); return 1; }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
    return pump(fd, &to, sizeof to, pkt, 20 + plen, pps, seconds);
}
