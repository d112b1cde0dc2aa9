/* Watch one address on one lab host: print when it appears and disappears, to the microsecond.
 *
 *     vipwatch ADDRESS [--iface eth0] [--adverts-from IP]     (inside the host: lab.popen(host, [...]))
 *
 * The C twin of bench/vipwatch.py, with the same output (one JSON line per change, stamped with
 * CLOCK_MONOTONIC; the first line is the state at start; with --adverts-from, one line per VRRP
 * advert from that source, stamped by the kernel at its arrival). Why a second one: address
 * notifications carry no kernel timestamp, so the watcher stamps a change when it reads it, and
 * it runs on the same two vCPUs as the daemons it judges. perf sched traces of short double
 * holdings (2026-12-01) showed the Python watcher running 0.18-0.25 ms per notification: as
 * SCHED_FIFO it held a daemon off its CPU for that long (keepalived's old master once, vrrpkit's
 * new one once), and as SCHED_OTHER it stamped late behind the daemons. This one stamps right
 * after the read (a few microseconds), runs SCHED_FIFO with its memory locked, and holds its
 * output until 20 ms pass without an event (or for 100 ms at most), so no reader is woken while a
 * double holding is being timed. SIGTERM flushes and ends it. Built by bench/labwatch.py with gcc -O2.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VRRP_PROTO 112
#define QUIET_MS 20     /* output is written after this long without an event, */
#define MAX_HOLD_MS 100 /* or once it is this old (adverts every 10 ms are never quiet for long) */

static volatile sig_atomic_t stopping;
static unsigned char want[16];
static int want_len, want_family, ifindex;

static void on_term(int sig) { (void)sig; stopping = 1; }

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double real_minus_mono(void) {
    struct timespec r, m;
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m);
    return (r.tv_sec - m.tv_sec) + (r.tv_nsec - m.tv_nsec) / 1e9;
}

/* 1 when the message is about our address on our interface; *kind says added or removed */
static int ours(struct nlmsghdr *nh) {
    struct ifaddrmsg *ifa = NLMSG_DATA(nh);
    if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) || (int)ifa->ifa_index != ifindex || ifa->ifa_family != want_family)
        return 0;
    int len = IFA_PAYLOAD(nh);
    unsigned char *local = NULL, *address = NULL;
    for (struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
        if ((int)RTA_PAYLOAD(rta) != want_len)
            continue;
        if (rta->rta_type == IFA_LOCAL)
            local = RTA_DATA(rta);
        else if (rta->rta_type == IFA_ADDRESS)
            address = RTA_DATA(rta);
    }
    unsigned char *raw = local ? local : address;
    return raw != NULL && memcmp(raw, want, want_len) == 0;
}

static int held_at_start(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct { struct nlmsghdr nh; struct ifaddrmsg ifa; } req;
    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = sizeof(req);
    req.nh.nlmsg_type = RTM_GETADDR;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = 1;
    req.ifa.ifa_family = want_family;
    if (send(fd, &req, sizeof(req), 0) < 0) {
        close(fd);
        return -1;
    }
    static char buf[65536];
    int held = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
                close(fd);
                return held;
            }
            if (nh->nlmsg_type == RTM_NEWADDR && ours(nh))
                held = 1;
        }
    }
    close(fd);
    return held;
}

/* IPv4: 224.0.0.18, the IP header in each datagram; IPv6: ff02::12, the source in its name */
static int advert_socket(const char *ifname, int family) {
    int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, VRRP_PROTO);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname));
    if (family == AF_INET) {
        struct ip_mreqn mreq;
        memset(&mreq, 0, sizeof(mreq));
        inet_pton(AF_INET, "224.0.0.18", &mreq.imr_multiaddr);
        mreq.imr_ifindex = ifindex;
        setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq));
    } else {
        struct ipv6_mreq mreq6;
        memset(&mreq6, 0, sizeof(mreq6));
        inet_pton(AF_INET6, "ff02::12", &mreq6.ipv6mr_multiaddr);
        mreq6.ipv6mr_interface = ifindex;
        setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq6, sizeof(mreq6));
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
    return fd;
}

static void read_adverts(int fd, int family, const unsigned char *peer) {
    double offset = real_minus_mono(); /* kernel stamps are CLOCK_REALTIME */
    for (;;) {
        unsigned char data[2048];
        char control[256];
        struct iovec iov = {data, sizeof(data)};
        struct sockaddr_in6 from;
        struct msghdr msg = {0};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof(from);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        ssize_t n = recvmsg(fd, &msg, 0);
        if (n < 0)
            return;
        double t = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                t = ts.tv_sec + ts.tv_nsec / 1e9 - offset;
            }
        if (t < 0)
            t = mono();
        if (family == AF_INET) {
            int ihl = (data[0] & 0x0f) * 4;
            if (n > ihl + 2 && memcmp(data + 12, peer, 4) == 0)
                printf("{\"t\": %.9f, \"advert\": %d}\n", t, data[ihl + 2]);
        } else if (n > 2 && memcmp(&from.sin6_addr, peer, 16) == 0) {
            printf("{\"t\": %.9f, \"advert\": %d}\n", t, data[2]);
        }
    }
}

int main(int argc, char **argv) {
    const char *address = NULL, *ifname = "eth0", *from = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--iface") && i + 1 < argc)
            ifname = argv[++i];
        else if (!strcmp(argv[i], "--adverts-from") && i + 1 < argc)
            from = argv[++i];
        else
            address = argv[i];
    }
    if (address == NULL) {
        fprintf(stderr, "usage: vipwatch ADDRESS [--iface IF] [--adverts-from IP]\n");
        return 2;
    }
    if (inet_pton(AF_INET, address, want) == 1)
        want_family = AF_INET, want_len = 4;
    else if (inet_pton(AF_INET6, address, want) == 1)
        want_family = AF_INET6, want_len = 16;
    else {
        fprintf(stderr, "vipwatch: not an address: %s\n", address);
        return 2;
    }
    ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0) {
        fprintf(stderr, "vipwatch: no interface %s\n", ifname);
        return 2;
    }
    struct sched_param sp = {.sched_priority = 10}; /* above the daemons (SCHED_OTHER), below the kernel's */
    sched_setscheduler(0, SCHED_FIFO, &sp);            /* not permitted: stamps a little later under load */
    mlockall(MCL_CURRENT | MCL_FUTURE);
    struct sigaction sa = {0};
    sa.sa_handler = on_term; /* no SA_RESTART: poll returns, the output is flushed */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    static char out[1 << 20];
    setvbuf(stdout, out, _IOFBF, sizeof(out));

    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl sa_nl = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
    if (nl < 0 || bind(nl, (struct sockaddr *)&sa_nl, sizeof(sa_nl)) < 0) {
        perror("vipwatch: netlink");
        return 1;
    }
    int rcvbuf = 1 << 20;
    setsockopt(nl, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    unsigned char peer[16] = {0};
    int vrrp = -1, peer_family = strchr(from ? from : "", ':') ? AF_INET6 : AF_INET;
    if (from != NULL) {
        if (inet_pton(peer_family, from, peer) != 1 || (vrrp = advert_socket(ifname, peer_family)) < 0) {
            fprintf(stderr, "vipwatch: cannot watch adverts from %s\n", from);
            return 1;
        }
    }
    int held = held_at_start();
    if (held < 0) {
        perror("vipwatch: address dump");
        return 1;
    }
    printf("{\"t\": %.9f, \"held\": %s, \"initial\": true}\n", mono(), held ? "true" : "false");
    fflush(stdout);

    struct pollfd fds[2] = {{nl, POLLIN, 0}, {vrrp, POLLIN, 0}};
    double pending = 0; /* when the oldest line not written yet was printed (0: none) */
    static char buf[65536];
    while (!stopping) {
        int timeout = -1;
        if (pending > 0) {
            int left = (int)((pending + MAX_HOLD_MS / 1e3 - mono()) * 1e3);
            timeout = left < 0 ? 0 : left < QUIET_MS ? left : QUIET_MS;
        }
        int ready = poll(fds, vrrp >= 0 ? 2 : 1, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (ready == 0) { /* quiet, or held long enough: now the readers may wake */
            fflush(stdout);
            pending = 0;
            continue;
        }
        if (vrrp >= 0 && (fds[1].revents & POLLIN)) {
            read_adverts(vrrp, peer_family, peer);
            pending = pending > 0 ? pending : mono();
        }
        if (!(fds[0].revents & POLLIN))
            continue;
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        double now = mono();
        if (n <= 0)
            continue;
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
            if ((nh->nlmsg_type != RTM_NEWADDR && nh->nlmsg_type != RTM_DELADDR) || !ours(nh))
                continue;
            int now_held = nh->nlmsg_type == RTM_NEWADDR;
            if (now_held != held) {
                held = now_held;
                printf("{\"t\": %.9f, \"held\": %s}\n", now, held ? "true" : "false");
                pending = pending > 0 ? pending : now;
            }
        }
    }
    fflush(stdout);
    return 0;
}
