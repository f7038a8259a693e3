#if canImport(Glibc)
import Glibc
#endif
import CHearthGuest
import HearthWire

/// Turns a terminal's interrupt, quit and suspend characters into signals where the sandbox's
/// kernel does not. gVisor's line discipline (Debian runsc 2022-12) echoes ^C as a plain byte and
/// never sends SIGINT, so without this Ctrl-C cannot stop `sleep 100` in a web terminal.
///
/// The agent sees the input but cannot learn the terminal's foreground process group: TIOCGPGRP on
/// the master answers ENOTTY to a process outside the session. So the spawn helper stays in the
/// session as its leader (the supervisor), and the agent queues it `relaySignal` carrying the signal
/// number; the supervisor asks `tcgetpgrp` and signals that group, as Linux's n_tty would.
enum TerminalSignalRelay {
    static var relaySignal: Int32 { hearth_sigrtmin() }

    /// Whether this kernel raises terminal signals itself: true on Linux (a microVM), false on
    /// gVisor 2022-12. Probed once: Linux echoes an ISIG character as "^C", gVisor as the raw byte.
    static let kernelRaisesSignals: Bool = probe()

    private static func probe() -> Bool {
        guard let io = try? ChildIO.pty(PTYSize(rows: 24, cols: 80)), let master = io.master else { return true }
        defer {
            io.closeChildEnds()
            io.closeParentEnds()
            close(io.inputFD)
        }
        let slave = io.childFDs[0]
        var mode = termios()
        guard tcgetattr(slave, &mode) == 0 else { return true }
        mode.c_lflag |= tcflag_t(ISIG | ICANON | ECHO | ECHOCTL)
        withUnsafeMutableBytes(of: &mode.c_cc) { $0[Int(VINTR)] = 3 }
        guard tcsetattr(slave, TCSANOW, &mode) == 0, Posix.writeAll(master, [3]) else { return true }
        var echoed: [UInt8] = []
        while echoed.count < 2, Posix.waitReady(master, events: Int16(POLLIN), timeoutMs: 500),
              let bytes = Posix.readSome(master, max: 64), !bytes.isEmpty {
            echoed += bytes
        }
        // Anything but the raw byte (including no echo at all) means the kernel handled it.
        return echoed != [3]
    }

    /// The terminal's interrupt characters as a map from byte to signal, or empty when ISIG is off.
    static func signalCharacters(of master: Int32) -> (map: [UInt8: Int32], echo: Bool, echoControl: Bool) {
        var mode = termios()
        guard tcgetattr(master, &mode) == 0, mode.c_lflag & tcflag_t(ISIG) != 0 else { return ([:], false, false) }
        var map: [UInt8: Int32] = [:]
        withUnsafeBytes(of: mode.c_cc) { cc in
            // _POSIX_VDISABLE (0) turns a character off.
            for (index, signal) in [(VSUSP, SIGTSTP), (VQUIT, SIGQUIT), (VINTR, SIGINT)] where cc[Int(index)] != 0 {
                map[cc[Int(index)]] = signal
            }
        }
        return (map, mode.c_lflag & tcflag_t(ECHO) != 0, mode.c_lflag & tcflag_t(ECHOCTL) != 0)
    }

    /// Sets the terminal's size. Linux then sends SIGWINCH to the foreground group, so that
    /// readline and full-screen programs redraw; gVisor does not, so the supervisor is asked to.
    static func resize(_ master: Int32, _ size: PTYSize, supervisor: pid_t?) {
        var old = winsize()
        let known = ioctl(master, UInt(TIOCGWINSZ), &old) == 0
        ChildIO.resize(master, size)
        guard let supervisor, !known || old.ws_row != size.rows || old.ws_col != size.cols else { return }
        _ = hearth_sigqueue(supervisor, relaySignal, SIGWINCH)
    }

    /// Writes `bytes` to the terminal; each signal character among them becomes its echo, sent
    /// with `echo`, and a signal queued to `supervisor`. False once the terminal is gone.
    static func write(_ bytes: ArraySlice<UInt8>, to master: Int32, supervisor: pid_t, echo: ([UInt8]) -> Void) -> Bool {
        let characters = signalCharacters(of: master)
        guard !characters.map.isEmpty, bytes.contains(where: { characters.map[$0] != nil }) else {
            return Posix.writeAll(master, bytes)
        }
        var start = bytes.startIndex
        for index in bytes.indices {
            let byte = bytes[index]
            guard let signal = characters.map[byte] else { continue }
            if index > start, !Posix.writeAll(master, bytes[start..<index]) { return false }
            start = index + 1
            if characters.echo {
                echo(characters.echoControl && byte < 0x20 ? [UInt8(ascii: "^"), byte + 0x40] : [byte])
            }
            _ = hearth_sigqueue(supervisor, relaySignal, signal)
        }
        return start >= bytes.endIndex || Posix.writeAll(master, bytes[start...])
    }
}
