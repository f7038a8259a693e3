#define _GNU_SOURCE
#include "hearth_beneath.h"
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static int open_walk(int dirfd, const char *path, int flags, mode_t mode) {
    char buffer[4096];
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof buffer) { errno = ENAMETOOLONG; return -1; }
    memcpy(buffer, path, length + 1);
    int current = dup(dirfd);
    if (current < 0) return -1;
    char *save = NULL;
    char *component = strtok_r(buffer, "/", &save);
    while (component) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(component, "..") == 0) { close(current); errno = EXDEV; return -1; }
        int fd = next ? openat(current, component, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                      : openat(current, component, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        int saved = errno;
        close(current);
        if (fd < 0) { errno = saved; return -1; }
        current = fd;
        component = next;
    }
    return current;
}

int hearth_open_beneath(int dirfd, const char *path, int flags, mode_t mode) {
    if (path[0] == '/') { errno = EXDEV; return -1; }
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC | O_NOFOLLOW);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    // No openat2 (an old kernel, or a seccomp profile that answers EPERM): walk instead.
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return (int)fd;
    return open_walk(dirfd, path, flags, mode);
}
int hearth_o_path(void) { return O_PATH; }

int hearth_overlay_opaque(int fd) {
    char value = 0;
    return fgetxattr(fd, "trusted.overlay.opaque", &value, 1) == 1 && value == 'y';
}

int hearth_set_overlay_opaque(const char *path) {
    return lsetxattr(path, "trusted.overlay.opaque", "y", 1, 0);
}

off_t hearth_seek_data(int fd, off_t offset) { return lseek(fd, offset, SEEK_DATA); }
off_t hearth_seek_hole(int fd, off_t offset) { return lseek(fd, offset, SEEK_HOLE); }
ssize_t hearth_copy_file_range(int in, off_t *in_offset, int out, off_t *out_offset, size_t length) {
    return copy_file_range(in, in_offset, out, out_offset, length, 0);
}

int hearth_rename_exchange(const char *a, const char *b) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, (unsigned)RENAME_EXCHANGE);
}
int hearth_syncfs_path(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    int rc = syncfs(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}
