#define _GNU_SOURCE
#include "hearth_guest.h"
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/reboot.h>
#include <unistd.h>
#include <string.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <stddef.h>
#include <errno.h>
#include <sys/wait.h>
#include <signal.h>

int hearth_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

pid_t hearth_wait_exited_child(int *code) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) != 0) return -1;
    *code = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
    return info.si_pid;
}

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

void hearth_power_off(void) {
    reboot(RB_POWER_OFF);
    reboot(RB_AUTOBOOT);
}

int hearth_stream_socket(int domain) { return socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0); }

int hearth_spawn_closefrom(posix_spawn_file_actions_t *actions, int low) {
    return posix_spawn_file_actions_addclosefrom_np(actions, low);
}

int hearth_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int hearth_finit_module(int fd, const char *params) { return (int)syscall(SYS_finit_module, fd, params, 0); }

int hearth_interface_up(const char *name) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct ifreq req;
    memset(&req, 0, sizeof req);
    strncpy(req.ifr_name, name, IFNAMSIZ - 1);
    int rc = ioctl(s, SIOCGIFFLAGS, &req);
    if (rc == 0) {
        req.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(s, SIOCSIFFLAGS, &req);
    }
    close(s);
    return rc;
}

// Gives a microVM's interface its address (`address` and `netmask` in network byte order) and
// brings it up, then routes everything through `gateway`: the workspace's one link to the host.
int hearth_interface_configure(const char *name, uint32_t address, uint32_t netmask, uint32_t gateway) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct ifreq req;
    memset(&req, 0, sizeof req);
    strncpy(req.ifr_name, name, IFNAMSIZ - 1);
    struct sockaddr_in *in = (struct sockaddr_in *)&req.ifr_addr;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = address;
    int rc = ioctl(s, SIOCSIFADDR, &req);
    if (rc == 0) {
        in->sin_addr.s_addr = netmask;
        rc = ioctl(s, SIOCSIFNETMASK, &req);
    }
    if (rc == 0) rc = ioctl(s, SIOCGIFFLAGS, &req);
    if (rc == 0) {
        req.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(s, SIOCSIFFLAGS, &req);
    }
    if (rc == 0) {
        struct rtentry route;
        memset(&route, 0, sizeof route);
        struct sockaddr_in *dst = (struct sockaddr_in *)&route.rt_dst;
        struct sockaddr_in *mask = (struct sockaddr_in *)&route.rt_genmask;
        struct sockaddr_in *via = (struct sockaddr_in *)&route.rt_gateway;
        dst->sin_family = mask->sin_family = via->sin_family = AF_INET;
        via->sin_addr.s_addr = gateway;
        route.rt_flags = RTF_UP | RTF_GATEWAY;
        route.rt_dev = (char *)name;
        rc = ioctl(s, SIOCADDRT, &route);
    }
    int saved = errno;
    close(s);
    errno = saved;
    return rc;
}

// A path, or with a leading '@' a name in the abstract namespace: nobody can bind an abstract
// name while its owner holds it, and no file of it exists to be replaced or renamed.
static int unix_address(const char *path, struct sockaddr_un *addr, socklen_t *len) {
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof addr->sun_path) { errno = ENAMETOOLONG; return -1; }
    if (path[0] == '@') {
        memcpy(addr->sun_path + 1, path + 1, n - 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        strcpy(addr->sun_path, path);
        *len = sizeof *addr;
    }
    return 0;
}

int hearth_connect_unix(const char *path) {
    struct sockaddr_un addr;
    socklen_t len;
    if (unix_address(path, &addr, &len) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, len) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int hearth_listen_unix(const char *path, int backlog) {
    struct sockaddr_un addr;
    socklen_t len;
    if (unix_address(path, &addr, &len) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (path[0] != '@') unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, len) != 0 || listen(fd, backlog) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

// Same-uid processes (a workspace's, all root in a gVisor sandbox) may then neither ptrace the
// agent nor read its memory through /proc, where its per-boot secret lives.
int hearth_set_nondumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

ssize_t hearth_send_with_fd(int sock, const void *data, size_t len, int fd) {
    struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

#include <sys/mount.h>
#include <sys/stat.h>
// As a microVM's /init the agent starts with no /proc, and the static Swift runtime reads
// /proc/self to find itself before main runs. Mount it first.
__attribute__((constructor(101))) static void hearth_early_proc(void) {
    if (getpid() != 1 || access("/proc/self/exe", F_OK) == 0) return;
    mkdir("/proc", 0755);
    mount("proc", "/proc", "proc", 0, NULL);
}

int hearth_sigrtmin(void) { return SIGRTMIN; }

int hearth_sigqueue(pid_t pid, int sig, int value) {
    union sigval v;
    v.sival_int = value;
    return sigqueue(pid, sig, v);
}

int hearth_sigwait_value(const sigset_t *set, int *value) {
    siginfo_t info;
    int sig;
    do { sig = sigwaitinfo(set, &info); } while (sig < 0 && errno == EINTR);
    if (sig >= 0) *value = info.si_value.sival_int;
    return sig;
}
