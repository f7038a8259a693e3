#ifndef HEARTH_JAIL_H
#define HEARTH_JAIL_H
#include <sys/types.h>

// Calls the jailer needs that Swift's Glibc module hides behind _GNU_SOURCE or variadics.
int hearth_jail_unshare_mounts(void);
int hearth_jail_unshare_network(void);
int hearth_jail_exec(const char *path, char *const argv[]);
int hearth_jail_no_new_privs(void);
int hearth_jail_set_ids(uid_t uid, gid_t gid, const gid_t *groups, size_t count);
int hearth_jail_mknod_char(const char *path, mode_t mode, unsigned major, unsigned minor);
int hearth_jail_close_inherited(int keep3, int keep4);
int hearth_jail_enter_network(const char *path);
int hearth_jail_open_tap(const char *name);
#endif
