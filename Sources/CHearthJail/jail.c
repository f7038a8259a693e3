#define _GNU_SOURCE
#include "hearth_jail.h"
#include <grp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int hearth_jail_unshare_mounts(void) { return unshare(CLONE_NEWNS); }

// QEMU has no network device, so an empty network namespace costs nothing and leaves a
// compromised VMM with no socket to the host's interfaces or abstract unix sockets.
int hearth_jail_unshare_network(void) { return unshare(CLONE_NEWNET); }

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

// close_range needs no /proc, which the jail does not have.
int hearth_jail_close_from(int low, int keep) {
    if (keep < low) return close_range(low, ~0U, 0);
    if (keep > low && close_range(low, keep - 1, 0) != 0) return -1;
    return close_range(keep + 1, ~0U, 0);
}
