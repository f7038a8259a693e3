#ifndef HEARTH_BENEATH_H
#define HEARTH_BENEATH_H
#include <sys/types.h>
// Opens `path` (relative) beneath the directory `dirfd` without following any symlink, magic link
// or `..` on the way: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), or,
// where the kernel lacks openat2, a walk of O_NOFOLLOW opens one component at a time. The result
// is close-on-exec. Returns the fd, or -1 with errno set (ELOOP/EXDEV for a refused link).
int hearth_open_beneath(int dirfd, const char *path, int flags, mode_t mode);
// O_PATH, which Swift cannot see without _GNU_SOURCE.
int hearth_o_path(void);
// Reads and sets an overlay upper layer's opaque-directory mark (`trusted.overlay.opaque` = "y"):
// 1 if set, 0 if not; set returns 0 or -1 with errno. <sys/xattr.h> is not in Swift's Glibc.
int hearth_overlay_opaque(int fd);
int hearth_set_overlay_opaque(const char *path);
// lseek(SEEK_DATA) and lseek(SEEK_HOLE), and copy_file_range: GNU extensions Swift cannot see.
off_t hearth_seek_data(int fd, off_t offset);
off_t hearth_seek_hole(int fd, off_t offset);
ssize_t hearth_copy_file_range(int in, off_t *in_offset, int out, off_t *out_offset, size_t length);
// renameat2(RENAME_EXCHANGE): swaps two paths atomically. 0, or -1 with errno.
int hearth_rename_exchange(const char *a, const char *b);
// syncfs(2) on the filesystem holding `path`. 0, or -1 with errno.
int hearth_syncfs_path(const char *path);
#endif
