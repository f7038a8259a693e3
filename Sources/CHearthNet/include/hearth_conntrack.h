#ifndef HEARTH_CONNTRACK_H
#define HEARTH_CONNTRACK_H

#include <stdint.h>

/// Deletes every connection-tracking entry of this network namespace whose mark is `mark`
/// (all of them, for any mask bit set in `mark`: the mask is all ones). One ctnetlink
/// `IPCTNL_MSG_CT_DELETE` with `CTA_MARK` and `CTA_MARK_MASK` and no tuple, which the kernel
/// treats as a flush filtered by mark. Returns 0 or a negative errno. `mark` 0 is refused
/// (-EINVAL): untouched connections carry mark 0, and a flush of them would cut the host's own.
int hearth_conntrack_flush_mark(uint32_t mark);

#endif
