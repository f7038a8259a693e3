import Foundation

/// Takes secrets out of what the audit log records. An exec's command line is the usual leak:
/// `mysql --password=…`, `curl -H 'Authorization: Bearer …'`, `GITHUB_TOKEN=… make`, a Hearth
/// token pasted into a script. Known shapes are replaced by `[REDACTED]`; the rest is kept, so
/// the log still says what ran. Output is bounded (`maxLength` characters).
public enum AuditRedaction {
    public static let marker = "[REDACTED]"
    public static let maxLength = 4096

    /// Flags whose next argument (or `=value`) is a secret.
    static let secretFlags: Set<String> = ["-p", "--password", "--passwd", "--pass", "--token", "--secret", "--api-key",
                                           "--access-key", "--secret-key", "--client-secret"]

    /// Redacts a shell-quoted command line (as the exec routes write it): each argument is
    /// judged on its own, then quoted again the same way.
    public static func commandLine(_ line: String) -> String {
        guard let words = splitShellWords(line) else { return bounded(text(line)) }
        return bounded(argv(words).map(quote).joined(separator: " "))
    }

    public static func argv(_ args: [String]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(args.count)
        var nextIsSecret = false
        for arg in args {
            if nextIsSecret {
                out.append(marker)
                nextIsSecret = false
                continue
            }
            if secretFlags.contains(arg) {
                out.append(arg)
                nextIsSecret = true
                continue
            }
            if let equals = arg.firstIndex(of: "="), secretFlags.contains(String(arg[..<equals])) {
                out.append(arg[...equals] + marker)
                continue
            }
            out.append(text(arg))
        }
        return out
    }

    /// Redacts secret shapes anywhere in free text: Hearth tokens and session secrets,
    /// `Authorization:` values, bearer credentials, `*_TOKEN=`/`*_KEY=`/`*_SECRET=`/`*PASSWORD=`
    /// assignments and `--password value` style flags.
    public static func text(_ input: String) -> String {
        var result = input
        for (pattern, template) in patterns {
            let range = NSRange(result.startIndex..., in: result)
            result = pattern.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        return result
    }

    public static func bounded(_ text: String) -> String {
        text.count <= maxLength ? text : String(text.prefix(maxLength)) + "…"
    }

    static let patterns: [(NSRegularExpression, String)] = [
        (#"\b(hth|hss)_[0-9A-Za-z]+"#, "$1_[REDACTED]"),
        (#"(?i)(authorization\s*:\s*)[^\n'"]*"#, "$1[REDACTED]"),
        (#"(?i)\b(bearer)(\s+)(?!\[REDACTED\])[^\s'"]+"#, "$1$2[REDACTED]"),
        (#"(?i)\b([A-Za-z0-9_.-]*(?:token|key|secret|password|passwd|credentials?))=(?!\[REDACTED\])[^\s'";&|]+"#, "$1=[REDACTED]"),
        (#"(?i)((?:^|\s)--?(?:password|passwd|pass|token|secret|api-key|client-secret)(?:=|\s+))(?!\[REDACTED\])[^\s'"]+"#, "$1[REDACTED]"),
    ].map { pattern, template in
        // The patterns are constants: a failure here is a programming error caught by the tests.
        (try! NSRegularExpression(pattern: pattern), template)
    }

    /// Splits a line quoted the way `quote` does (single quotes, `'\''` for a quote), or nil when
    /// it is not such a line.
    static func splitShellWords(_ line: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quoted = false
        var escaped = false
        for c in line {
            if quoted {
                if c == "'" { quoted = false } else { current.append(c) }
            } else if escaped {
                current.append(c)
                escaped = false
            } else if c == "'" {
                quoted = true
                inWord = true
            } else if c == "\\" {
                escaped = true
                inWord = true
            } else if c == " " {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(c)
                inWord = true
            }
        }
        if quoted || escaped { return nil }
        if inWord { words.append(current) }
        return words
    }

    /// The exec routes' quoting: plain when safe, else single-quoted.
    static func quote(_ arg: String) -> String {
        arg.isEmpty || arg.contains(where: { " \"'\\$`\t\n;&|<>()*?".contains($0) })
            ? "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'" : arg
    }
}
