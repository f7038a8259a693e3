#ifndef HEARTH_GUEST_H
#define HEARTH_GUEST_H
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

// GNU extensions Swift's Glibc module does not expose without _GNU_SOURCE.
int hearth_pipe2_cloexec(int fds[2]);
int hearth_accept_cloexec(int fd);
// Opens a PTY master; writes the slave's path into `name`. Returns the master fd or -1.
int hearth_open_pty(char *name, size_t size);
int hearth_execvpe(const char *file, char *const argv[], char *const envp[]);
// Powers the machine off; without ACPI power-off it restarts instead, and QEMU, run with
// -no-reboot, exits. Returns only if both fail (not PID 1 of a machine).
void hearth_power_off(void);
// A close-on-exec stream socket of `domain` (AF_UNIX, AF_INET, AF_INET6).
int hearth_stream_socket(int domain);
#include <spawn.h>
// Adds "close every fd from `low` up" to spawn file actions (glibc 2.34+).
int hearth_spawn_closefrom(posix_spawn_file_actions_t *actions, int low);
// Adds a chdir to spawn file actions (glibc 2.29+).
int hearth_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path);
// PID 1 in a microVM: load a kernel module from an open .ko file with its parameters.
int hearth_finit_module(int fd, const char *params);
// Sets IFF_UP on a network interface (the microVM's loopback).
int hearth_interface_up(const char *name);
// Address, netmask and gateway (network byte order) on a microVM's network interface, and up.
int hearth_interface_configure(const char *name, uint32_t address, uint32_t netmask, uint32_t gateway);
// A connected, close-on-exec unix stream socket, or -1 with errno set. A leading '@' names an
// abstract socket.
int hearth_connect_unix(const char *path);
// A listening, close-on-exec unix stream socket bound to `path` (replacing any file there), or -1.
// A leading '@' names an abstract socket (EADDRINUSE while another holds it).
int hearth_listen_unix(const char *path, int backlog);
// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are re-parented to this process.
int hearth_set_child_subreaper(void);
// Blocks until a child has exited and returns its pid without reaping it (waitid WNOWAIT), so
// its pid stays reserved until a waitpid; `code` gets its exit code, or 128 + the signal that
// ended it. -1 with errno (ECHILD: no children).
pid_t hearth_wait_exited_child(int *code);
// prctl(PR_SET_DUMPABLE, 0): no ptrace or /proc/<pid>/mem by same-uid processes.
int hearth_set_nondumpable(void);
// Sends `fd` over a unix socket with SCM_RIGHTS, with `len` bytes of data (QMP getfd).
ssize_t hearth_send_with_fd(int sock, const void *data, size_t len, int fd);
#include <signal.h>
// The first real-time signal (a glibc function, not a constant, so Swift cannot import it).
int hearth_sigrtmin(void);
// Queues `sig` to `pid` carrying `value` (sigqueue).
int hearth_sigqueue(pid_t pid, int sig, int value);
// Waits for one signal of `set`; returns its number (or -1) and stores the value it carries.
int hearth_sigwait_value(const sigset_t *set, int *value);
#endif
