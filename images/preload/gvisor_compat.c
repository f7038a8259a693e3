// Fixes for gaps of Debian's runsc (2022-12), preloaded into every process of a gVisor workspace
// through /etc/ld.so.preload. The library keeps its first name, libhearth-statx.so, because
// existing workspaces name it in their /etc/ld.so.preload.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

// statx() with AT_NO_AUTOMOUNT fails with EINVAL, which breaks coreutils ls and stat. The flag
// only matters for automount points, which a sandbox never has, so clearing it is safe.
int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    return (int)syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
}

// The pseudo-terminal has no TCSETSF and no TCFLSH (ENOTTY). glibc's getpass and Python's
// getpass turn echo off with TCSAFLUSH, and on failure they echo the password. Unread input
// cannot be discarded here, so the mode is applied without the flush: what a user typed ahead
// stays queued, which is harmless next to a password shown on screen.
int tcsetattr(int fd, int actions, const struct termios *mode) {
    static int (*next)(int, int, const struct termios *);
    if (!next) next = (int (*)(int, int, const struct termios *))dlsym(RTLD_NEXT, "tcsetattr");
    int rc = next(fd, actions, mode);
    if (rc != 0 && errno == ENOTTY && actions == TCSAFLUSH && isatty(fd)) rc = next(fd, TCSANOW, mode);
    return rc;
}

int tcflush(int fd, int queue) {
    static int (*next)(int, int);
    if (!next) next = (int (*)(int, int))dlsym(RTLD_NEXT, "tcflush");
    int rc = next(fd, queue);
    if (rc != 0 && errno == ENOTTY && isatty(fd)) rc = 0;
    return rc;
}
