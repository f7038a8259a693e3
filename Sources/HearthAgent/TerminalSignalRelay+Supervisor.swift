#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest

extension TerminalSignalRelay {
    /// Called by the spawn helper as the new session's leader, with the terminal on fds 0-2. Forks:
    /// the child returns, in a foreground process group of its own, to exec the command; the parent
    /// never returns. It relays queued signals to the terminal's foreground group and exits as the
    /// child does, so the agent sees the command's own status.
    static func forkSupervisor() {
        var handled = sigset_t()
        sigemptyset(&handled)
        // SIGTTOU lets the child take the foreground from its new group; the others are the
        // session's hang-up and termination signals, which reach the command directly and must
        // not end the supervisor before the command's status is known.
        for signal in [SIGCHLD, relaySignal, SIGTTOU, SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGTSTP] {
            sigaddset(&handled, signal)
        }
        sigprocmask(SIG_BLOCK, &handled, nil)
        // The command starts with nothing blocked; the agent spawned this helper with the relay
        // signal blocked already.
        var none = sigset_t()
        sigemptyset(&none)
        let child = fork()
        if child < 0 {
            // No supervisor then: the command still runs, only Ctrl-C stays inert.
            signal(relaySignal, SIG_IGN)
            sigprocmask(SIG_SETMASK, &none, nil)
            return
        }
        if child == 0 {
            setpgid(0, 0)
            tcsetpgrp(0, getpid())
            sigprocmask(SIG_SETMASK, &none, nil)
            return
        }
        // Both sides set the group, so whichever runs first the command starts in the foreground.
        setpgid(child, child)
        tcsetpgrp(0, child)
        while true {
            var value: Int32 = 0
            let signal = hearth_sigwait_value(&handled, &value)
            if signal == relaySignal {
                let group = tcgetpgrp(0)
                if group > 0, (1...64).contains(value) { kill(-group, value) }
            } else if signal == SIGCHLD {
                var status: Int32 = 0
                if waitpid(child, &status, WNOHANG) == child { exitAs(status) }
            } else if signal < 0 {
                _exit(126)
            }
        }
    }

    /// Ends this process the way the child ended: the same exit code, or the same signal.
    private static func exitAs(_ status: Int32) -> Never {
        let signal = status & 0x7f
        guard signal != 0 else { _exit((status >> 8) & 0xff) }
        Glibc.signal(signal, SIG_DFL)
        var only = sigset_t()
        sigemptyset(&only)
        sigaddset(&only, signal)
        sigprocmask(SIG_UNBLOCK, &only, nil)
        raise(signal)
        _exit(128 + signal)
    }
}
