#define _GNU_SOURCE
#include "hearth_guest.h"
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/reboot.h>
#include <unistd.h>

int hearth_pipe2_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int hearth_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }

int hearth_open_pty(char *name, size_t size) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, name, size) != 0) {
        close(master);
        return -1;
    }
    return master;
}

int hearth_execvpe(const char *file, char *const argv[], char *const envp[]) {
    return execvpe(file, argv, envp);
}

void hearth_power_off(void) { reboot(RB_POWER_OFF); }

int hearth_stream_socket(int domain) { return socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0); }

int hearth_spawn_closefrom(posix_spawn_file_actions_t *actions, int low) {
    return posix_spawn_file_actions_addclosefrom_np(actions, low);
}

int hearth_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}
