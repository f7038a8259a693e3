#include "hearth_conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void put_u32_attribute(char *at, uint16_t type, uint32_t host_order) {
    struct nlattr attribute = { .nla_len = NLA_HDRLEN + sizeof(uint32_t), .nla_type = type };
    uint32_t value = htonl(host_order);
    memcpy(at, &attribute, sizeof attribute);
    memcpy(at + NLA_HDRLEN, &value, sizeof value);
}

int hearth_conntrack_flush_mark(uint32_t mark) {
    if (mark == 0) return -EINVAL;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) return -errno;
    // The kernel answers within one scheduling of the flush; a bound keeps a wedged netlink from
    // holding the caller forever.
    struct timeval timeout = { .tv_sec = 5, .tv_usec = 0 };
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    enum { attributes = 2 * NLA_ALIGN(NLA_HDRLEN + sizeof(uint32_t)) };
    char request[NLMSG_SPACE(sizeof(struct nfgenmsg) + attributes)];
    memset(request, 0, sizeof request);
    struct nlmsghdr *header = (struct nlmsghdr *)request;
    header->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg) + attributes);
    header->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
    header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    header->nlmsg_seq = 1;
    struct nfgenmsg *generic = (struct nfgenmsg *)NLMSG_DATA(header);
    generic->nfgen_family = AF_INET;
    generic->version = NFNETLINK_V0;
    char *at = (char *)generic + NLA_ALIGN(sizeof(struct nfgenmsg));
    put_u32_attribute(at, CTA_MARK, mark);
    put_u32_attribute(at + NLA_ALIGN(NLA_HDRLEN + sizeof(uint32_t)), CTA_MARK_MASK, 0xffffffffu);

    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(fd, request, header->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    // The acknowledgement: an NLMSG_ERROR whose error is 0 on success.
    char answer[4096];
    for (;;) {
        ssize_t got = recv(fd, answer, sizeof answer, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            int error = errno;
            close(fd);
            return -error;
        }
        int remaining = (int)got;
        for (struct nlmsghdr *reply = (struct nlmsghdr *)answer; NLMSG_OK(reply, remaining); reply = NLMSG_NEXT(reply, remaining)) {
            if (reply->nlmsg_seq != 1) continue;
            if (reply->nlmsg_type == NLMSG_ERROR && reply->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
                const struct nlmsgerr *error = (const struct nlmsgerr *)NLMSG_DATA(reply);
                int result = error->error;
                close(fd);
                // ENOENT: nothing carried the mark, which is what was wanted.
                return result == -ENOENT ? 0 : result;
            }
        }
    }
}
