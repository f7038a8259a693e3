#include "hearth_conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/// A request being built: a header, the generic netfilter header, then attributes.
struct request {
    char bytes[512];
    size_t length;
    /// Open nested attributes (offsets of their headers), innermost last.
    size_t nests[4];
    int depth;
};

static void start_request(struct request *r, uint16_t message, uint16_t flags) {
    memset(r, 0, sizeof *r);
    struct nlmsghdr *header = (struct nlmsghdr *)r->bytes;
    header->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | message;
    header->nlmsg_flags = NLM_F_REQUEST | flags;
    header->nlmsg_seq = 1;
    struct nfgenmsg *generic = (struct nfgenmsg *)NLMSG_DATA(header);
    generic->nfgen_family = AF_INET;
    generic->version = NFNETLINK_V0;
    r->length = NLMSG_LENGTH(sizeof(struct nfgenmsg));
}

static void put(struct request *r, uint16_t type, const void *value, size_t size) {
    struct nlattr attribute = { .nla_len = (uint16_t)(NLA_HDRLEN + size), .nla_type = type };
    memcpy(r->bytes + r->length, &attribute, sizeof attribute);
    if (size > 0) memcpy(r->bytes + r->length + NLA_HDRLEN, value, size);
    r->length += NLA_ALIGN(NLA_HDRLEN + size);
}

static void open_nest(struct request *r, uint16_t type) {
    r->nests[r->depth++] = r->length;
    put(r, type | NLA_F_NESTED, NULL, 0);
}

static void close_nest(struct request *r) {
    size_t at = r->nests[--r->depth];
    struct nlattr attribute;
    memcpy(&attribute, r->bytes + at, sizeof attribute);
    attribute.nla_len = (uint16_t)(r->length - at);
    memcpy(r->bytes + at, &attribute, sizeof attribute);
}

static int open_socket(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) return -errno;
    // The kernel answers at once; a bound keeps a wedged netlink from holding the caller forever.
    struct timeval timeout = { .tv_sec = 5, .tv_usec = 0 };
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
}

static int send_request(int fd, struct request *r) {
    ((struct nlmsghdr *)r->bytes)->nlmsg_len = (uint32_t)r->length;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    return sendto(fd, r->bytes, r->length, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0 ? -errno : 0;
}

/// Reads until the acknowledgement of request 1: returns 0 with the kernel's answer (0 or a
/// negative errno) in `*answer`, or a negative errno when the socket itself failed.
static int await_ack(int fd, int *answer) {
    char buffer[4096];
    for (;;) {
        ssize_t got = recv(fd, buffer, sizeof buffer, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        int remaining = (int)got;
        for (struct nlmsghdr *reply = (struct nlmsghdr *)buffer; NLMSG_OK(reply, remaining); reply = NLMSG_NEXT(reply, remaining)) {
            if (reply->nlmsg_seq != 1) continue;
            if (reply->nlmsg_type == NLMSG_ERROR && reply->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
                *answer = ((const struct nlmsgerr *)NLMSG_DATA(reply))->error;
                return 0;
            }
        }
    }
}

/// The attributes in `length` bytes at `start` (each length checked), by type, at most `max`.
static void attributes(const char *start, int length, const struct nlattr **found, int max) {
    for (int i = 0; i <= max; i++) found[i] = NULL;
    int remaining = length;
    const char *at = start;
    while (remaining >= NLA_HDRLEN) {
        const struct nlattr *a = (const struct nlattr *)at;
        if (a->nla_len < NLA_HDRLEN || a->nla_len > remaining) break;
        int type = a->nla_type & NLA_TYPE_MASK;
        if (type <= max) found[type] = a;
        int step = NLA_ALIGN(a->nla_len);
        if (step >= remaining) break;
        remaining -= step;
        at += step;
    }
}

/// The attributes nested in `parent`.
static void nested(const struct nlattr *parent, const struct nlattr **found, int max) {
    attributes((const char *)parent + NLA_HDRLEN, parent->nla_len - NLA_HDRLEN, found, max);
}

static int payload_is(const struct nlattr *a, int size) { return a && a->nla_len - NLA_HDRLEN >= size; }
static const void *payload(const struct nlattr *a) { return (const char *)a + NLA_HDRLEN; }

/// Fills `t` from one dumped entry; 1 for an IPv4 TCP or UDP connection carrying `mark`.
static int parse_entry(const struct nlmsghdr *message, uint32_t mark, struct hearth_ct_tuple *t) {
    if (message->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg))) return 0;
    const struct nlattr *level[CTA_MAX + 1];
    int offset = NLMSG_ALIGN(sizeof(struct nfgenmsg));
    int length = (int)message->nlmsg_len - NLMSG_HDRLEN - offset;
    if (length < 0) return 0;
    attributes((const char *)NLMSG_DATA(message) + offset, length, level, CTA_MAX);
    if (!payload_is(level[CTA_MARK], 4) || !payload_is(level[CTA_ID], 4) || !level[CTA_TUPLE_ORIG]) return 0;
    uint32_t found_mark;
    memcpy(&found_mark, payload(level[CTA_MARK]), 4);
    if (ntohl(found_mark) != mark) return 0;
    const struct nlattr *tuple[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *proto[CTA_PROTO_MAX + 1];
    nested(level[CTA_TUPLE_ORIG], tuple, CTA_TUPLE_MAX);
    if (!tuple[CTA_TUPLE_IP] || !tuple[CTA_TUPLE_PROTO]) return 0;
    nested(tuple[CTA_TUPLE_IP], ip, CTA_IP_MAX);
    nested(tuple[CTA_TUPLE_PROTO], proto, CTA_PROTO_MAX);
    if (!payload_is(ip[CTA_IP_V4_SRC], 4) || !payload_is(ip[CTA_IP_V4_DST], 4) || !payload_is(proto[CTA_PROTO_NUM], 1)) return 0;
    uint8_t number = *(const uint8_t *)payload(proto[CTA_PROTO_NUM]);
    memset(t, 0, sizeof *t);
    memcpy(&t->source, payload(ip[CTA_IP_V4_SRC]), 4);
    memcpy(&t->destination, payload(ip[CTA_IP_V4_DST]), 4);
    if (payload_is(proto[CTA_PROTO_SRC_PORT], 2) && payload_is(proto[CTA_PROTO_DST_PORT], 2)) {
        memcpy(&t->source_port, payload(proto[CTA_PROTO_SRC_PORT]), 2);
        memcpy(&t->destination_port, payload(proto[CTA_PROTO_DST_PORT]), 2);
        t->has_ports = 1;
    }
    if (payload_is(proto[CTA_PROTO_ICMP_ID], 2) && payload_is(proto[CTA_PROTO_ICMP_TYPE], 1) && payload_is(proto[CTA_PROTO_ICMP_CODE], 1)) {
        memcpy(&t->icmp_id, payload(proto[CTA_PROTO_ICMP_ID]), 2);
        t->icmp_type = *(const uint8_t *)payload(proto[CTA_PROTO_ICMP_TYPE]);
        t->icmp_code = *(const uint8_t *)payload(proto[CTA_PROTO_ICMP_CODE]);
        t->has_icmp = 1;
    }
    if ((number == IPPROTO_TCP || number == IPPROTO_UDP) && !t->has_ports) return 0;
    memcpy(&t->id, payload(level[CTA_ID]), 4);
    t->protocol = number;
    return 1;
}

int hearth_conntrack_list_mark(uint32_t mark, struct hearth_ct_tuple *out, int capacity, int *seen) {
    if (mark == 0 || capacity < 0 || seen == NULL) return -EINVAL;
    *seen = 0;
    int fd = open_socket();
    if (fd < 0) return fd;
    struct request r;
    start_request(&r, IPCTNL_MSG_CT_GET, NLM_F_DUMP);
    uint32_t value = htonl(mark), mask = htonl(0xffffffffu);
    put(&r, CTA_MARK, &value, sizeof value);
    put(&r, CTA_MARK_MASK, &mask, sizeof mask);
    int result = send_request(fd, &r);
    int count = 0;
    // A dump answers in as many messages as it takes, ended by NLMSG_DONE; entries past
    // `capacity` are read and dropped.
    enum { answerSize = 65536 };
    char *answer = malloc(answerSize);
    if (answer == NULL) result = -ENOMEM;
    while (result == 0) {
        ssize_t got = recv(fd, answer, answerSize, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            result = -errno;
            break;
        }
        int remaining = (int)got, done = 0;
        for (struct nlmsghdr *m = (struct nlmsghdr *)answer; NLMSG_OK(m, remaining); m = NLMSG_NEXT(m, remaining)) {
            if (m->nlmsg_type == NLMSG_DONE) { done = 1; break; }
            if (m->nlmsg_type == NLMSG_ERROR) {
                if (m->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) result = ((const struct nlmsgerr *)NLMSG_DATA(m))->error;
                done = 1;
                break;
            }
            struct hearth_ct_tuple t;
            if (parse_entry(m, mark, &t)) {
                if (*seen < 0x7fffffff) (*seen)++;
                if (count < capacity) out[count++] = t;
            }
        }
        if (done) break;
    }
    free(answer);
    close(fd);
    return result < 0 ? result : count;
}

int hearth_conntrack_delete(const struct hearth_ct_tuple *tuples, int count) {
    if (count <= 0) return 0;
    int fd = open_socket();
    if (fd < 0) return fd;
    int deleted = 0, result = 0;
    for (int i = 0; i < count; i++) {
        const struct hearth_ct_tuple *t = &tuples[i];
        struct request r;
        start_request(&r, IPCTNL_MSG_CT_DELETE, NLM_F_ACK);
        open_nest(&r, CTA_TUPLE_ORIG);
        open_nest(&r, CTA_TUPLE_IP);
        put(&r, CTA_IP_V4_SRC, &t->source, 4);
        put(&r, CTA_IP_V4_DST, &t->destination, 4);
        close_nest(&r);
        open_nest(&r, CTA_TUPLE_PROTO);
        put(&r, CTA_PROTO_NUM, &t->protocol, 1);
        if (t->has_ports) {
            put(&r, CTA_PROTO_SRC_PORT, &t->source_port, 2);
            put(&r, CTA_PROTO_DST_PORT, &t->destination_port, 2);
        }
        if (t->has_icmp) {
            put(&r, CTA_PROTO_ICMP_ID, &t->icmp_id, 2);
            put(&r, CTA_PROTO_ICMP_TYPE, &t->icmp_type, 1);
            put(&r, CTA_PROTO_ICMP_CODE, &t->icmp_code, 1);
        }
        close_nest(&r);
        close_nest(&r);
        put(&r, CTA_ID, &t->id, 4);
        result = send_request(fd, &r);
        if (result < 0) break;
        int answer = 0;
        result = await_ack(fd, &answer);
        if (result < 0) break;
        // The kernel's answer for this entry: deleted, or refused (gone already, its id another
        // connection's now, busy), which skips it.
        if (answer == 0) deleted++;
    }
    close(fd);
    return result < 0 ? result : deleted;
}
