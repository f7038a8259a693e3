#ifndef HEARTH_CONNTRACK_H
#define HEARTH_CONNTRACK_H

#include <stdint.h>

/// One tracked IPv4 connection, as its first packet went (addresses, ports and the ICMP id in
/// network byte order).
struct hearth_ct_tuple {
    uint32_t source;
    uint32_t destination;
    /// Ports (TCP, UDP, SCTP, DCCP, UDP-Lite; GRE keys), when `has_ports`.
    uint16_t source_port;
    uint16_t destination_port;
    /// The ICMP echo id, type and code, when `has_icmp`.
    uint16_t icmp_id;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint8_t has_ports;
    uint8_t has_icmp;
    uint8_t protocol;
    /// The kernel's id of the entry (`CTA_ID`, network byte order), so a delete never hits a
    /// later connection that reused the tuple.
    uint32_t id;
};

/// Lists up to `capacity` IPv4 connections of this network namespace, of any protocol, whose mark
/// is `mark` (a ctnetlink dump asked to filter by mark, and each entry's mark checked here as well,
/// so a kernel that ignores the filter yields no stranger's connection). Returns how many were
/// written, or a negative errno; `*seen` is set to how many the dump held, which may exceed
/// `capacity`. `mark` 0 is refused (-EINVAL): connections nothing marked carry 0. Deleting what
/// this lists, entry by entry, is how a workspace's connections go: never a flush filtered by mark,
/// which a kernel without the filter would run over the whole table.
int hearth_conntrack_list_mark(uint32_t mark, struct hearth_ct_tuple *out, int capacity, int *seen);

/// Deletes each tracked connection whose original direction is `tuples[i]`, if its id is still
/// `tuples[i].id`, over one netlink socket. Returns how many were deleted; an entry the kernel
/// refuses (gone already, its id another connection's now, busy) is skipped; a failure of the
/// socket itself ends the batch with its negative errno.
int hearth_conntrack_delete(const struct hearth_ct_tuple *tuples, int count);

#endif
