#define _GNU_SOURCE
#include "hearth_jail.h"
#include <dirent.h>
#include <grp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int hearth_jail_unshare_mounts(void) { return unshare(CLONE_NEWNS); }

int hearth_jail_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

int hearth_jail_set_ids(uid_t uid, gid_t gid, const gid_t *groups, size_t count) {
    if (setgroups(count, groups) != 0) return -1;
    if (setresgid(gid, gid, gid) != 0) return -1;
    return setresuid(uid, uid, uid);
}

int hearth_jail_mknod_char(const char *path, mode_t mode, unsigned major, unsigned minor) {
    return mknod(path, S_IFCHR | mode, makedev(major, minor));
}

int hearth_jail_close_from(int low, int keep) {
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) return -1;
    int self = dirfd(dir);
    struct dirent *entry;
    int fds[1024];
    int count = 0;
    while ((entry = readdir(dir)) != NULL && count < 1024) {
        int fd = atoi(entry->d_name);
        if (entry->d_name[0] >= '0' && entry->d_name[0] <= '9' && fd >= low && fd != keep && fd != self) fds[count++] = fd;
    }
    closedir(dir);
    for (int i = 0; i < count; i++) close(fds[i]);
    return 0;
}
