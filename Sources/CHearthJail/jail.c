#define _GNU_SOURCE
#include "hearth_jail.h"
#include <fcntl.h>
#include <grp.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <errno.h>
#include <unistd.h>

int hearth_jail_unshare_mounts(void) { return unshare(CLONE_NEWNS); }

// Without networking QEMU has no network device, so an empty network namespace costs nothing and
// leaves a compromised VMM with no socket to the host's interfaces or abstract unix sockets.
int hearth_jail_unshare_network(void) { return unshare(CLONE_NEWNET); }

// With networking: the workspace's own namespace, which holds only its tap and its veth's end.
int hearth_jail_enter_network(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

// Attaches to the persistent tap `name` of the current network namespace (the tun device takes
// its namespace when it is opened, so this follows hearth_jail_enter_network). The descriptor is
// QEMU's `-netdev tap,fd=`. No IFF_VNET_HDR: with it, QEMU hands the guest's virtio-net header
// (GSO type and size, checksum offsets) to the host kernel with each frame, and malformed ones
// have been host kernel bugs (CVE-2024-43897); without it the guest gets no offloads, and every
// frame the host sees is a plain frame.
int hearth_jail_open_tap(const char *name) {
    if (strlen(name) >= IFNAMSIZ) { errno = ENAMETOOLONG; return -1; }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &request) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

// An empty environment: nothing of the server's (tokens, proxies, library paths) reaches the VMM.
int hearth_jail_exec(const char *path, char *const argv[]) {
    char *const envp[] = { NULL };
    return execve(path, argv, envp);
}

int hearth_jail_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

int hearth_jail_set_ids(uid_t uid, gid_t gid, const gid_t *groups, size_t count) {
    if (setgroups(count, groups) != 0) return -1;
    if (setresgid(gid, gid, gid) != 0) return -1;
    return setresuid(uid, uid, uid);
}

int hearth_jail_mknod_char(const char *path, mode_t mode, unsigned major, unsigned minor) {
    return mknod(path, S_IFCHR | mode, makedev(major, minor));
}

// close_range needs no /proc, which the jail does not have. Descriptors 3 and 4 stay open only
// when the VMM is handed them (the saved state, the tap).
int hearth_jail_close_inherited(int keep3, int keep4) {
    if (!keep3) close(3);
    if (!keep4) close(4);
    return close_range(5, ~0U, 0);
}
