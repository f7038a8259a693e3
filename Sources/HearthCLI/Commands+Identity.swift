import ArgumentParser
import Foundation
import HearthAPI
import HearthClient

/// `hearth login`: signs in with an email and password, and keeps an API token for this machine
/// in `~/.config/hearth/credentials` (mode 0600), which later commands use.
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sign in and keep an API token for this machine.")
    @OptionGroup var client: ClientOptions
    @Option(help: "Your email (asked for when omitted)") var email: String?
    @Flag(help: "Read the password from standard input instead of asking") var passwordStdin = false
    @Option(help: "How long the token lasts, such as 30d or 12h (default 30d)") var expires: String = "30d"

    func run() async throws {
        let email = self.email ?? Prompt.line("Email: ")
        let password = passwordStdin ? (readLine(strippingNewline: true) ?? "") : Prompt.secret("Password: ")
        let seconds = try Duration.parse(expires)
        let c = try client.client(authenticated: false)
        try await withClientErrors {
            let session = try await c.signIn(email: email, password: password)
            let host = ProcessInfo.processInfo.hostName
            let token = try await c.createToken(API.CreateTokenBody(name: "cli@\(host)", expires_in: seconds), session: session)
            try? await c.signOut(session)
            try Credentials(url: c.baseURL, token: token.token ?? "").save()
            print("signed in as \(session.body.user) (tenant \(session.body.tenant), role \(session.body.role)); token \(token.prefix)… saved to \(Credentials.path)")
        }
    }
}

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tenant", abstract: "Manage tenants (admins of the default tenant).",
                                                    subcommands: [Create.self, TenantQuotaCommand.self])
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant.")
        @OptionGroup var client: ClientOptions
        @Argument var name: String
        @Flag var json = false
        func run() async throws {
            let c = try client.client()
            let tenant = try await withClientErrors { try await c.createTenant(name) }
            if json { try Terminal.printJSON(tenant) } else { print("tenant \(tenant.name) (\(tenant.id))") }
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage users.",
                                                    subcommands: [Create.self, List.self, Disable.self, Enable.self, Delete.self,
                                                                  RoleChange.self, Password.self])
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user; the password is read from standard input.")
        @OptionGroup var client: ClientOptions
        @Argument var email: String
        @Option var tenant: String?
        @Option var role: String = "member"
        @Flag(help: "Read the password from standard input") var passwordStdin = false
        @Flag var json = false
        func validate() throws {
            guard passwordStdin else { throw ValidationError("pass --password-stdin and the password on standard input") }
        }
        func run() async throws {
            let password = readLine(strippingNewline: true) ?? ""
            let c = try client.client()
            let user = try await withClientErrors {
                try await c.createUser(API.CreateUserBody(email: email, tenant: tenant, role: role, password: password))
            }
            if json { try Terminal.printJSON(user) } else { print("user \(user.email) (\(user.role)) in \(user.tenant)") }
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Manage API tokens.",
                                                    subcommands: [Create.self, List.self, Revoke.self])
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API token; its secret is shown once.")
        @OptionGroup var client: ClientOptions
        @Option var name: String
        @Option var tenant: String?
        @Option var user: String?
        @Option var role: String?
        @Option(help: "Lifetime, such as 90d, 12h or 30m (default: no expiry)") var expires: String?
        @Flag var json = false
        func run() async throws {
            let seconds = try expires.map(Duration.parse)
            let c = try client.client()
            let token = try await withClientErrors {
                try await c.createToken(API.CreateTokenBody(name: name, tenant: tenant, user: user, role: role, expires_in: seconds))
            }
            if json { try Terminal.printJSON(token) } else { print(token.token ?? "") }
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your tokens (an admin sees the tenant's).")
        @OptionGroup var client: ClientOptions
        @Flag var json = false
        func run() async throws {
            let c = try client.client()
            let tokens = try await withClientErrors { try await c.tokens() }
            if json { try Terminal.printJSON(tokens); return }
            let iso = ISO8601DateFormatter()
            for t in tokens {
                let state = t.revoked_at != nil ? "revoked" : (t.expires_at.map { $0 < Date() ? "expired" : "expires \(iso.string(from: $0))" } ?? "no expiry")
                print("\(t.id)  \(t.prefix)…  \(t.name)  \(t.user)  \(t.role)  \(state)")
            }
        }
    }
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws {
            let c = try client.client()
            let token = try await withClientErrors { try await c.revokeToken(id) }
            print("revoked \(token.id) (\(token.name))")
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Read and check the audit log.",
                                                    subcommands: [Verify.self, Export.self])
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the hash chain; exits non-zero and names each break.")
        @OptionGroup var client: ClientOptions
        func run() async throws {
            let c = try client.client()
            let result = try await withClientErrors { try await c.auditVerify() }
            if result.ok {
                print("audit log intact: \(result.events) events")
                return
            }
            for problem in result.problems { Terminal.error("hearth: \(problem)") }
            throw ExitCode(1)
        }
    }
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print events as JSON lines, for a SIEM.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Only events at or after this ISO 8601 time") var since: String?
        @Flag(help: "JSON lines (the default and only format)") var json = false
        func run() async throws {
            var start: Date?
            if let since {
                guard let date = ISO8601DateFormatter().date(from: since) else { throw ValidationError("--since is an ISO 8601 time, such as 2026-11-22T10:00:00Z") }
                start = date
            }
            let c = try client.client()
            let events = try await withClientErrors { try await c.auditExport(since: start) }
            let encoder = API.encoder()
            for event in events { print(String(decoding: try encoder.encode(event), as: UTF8.self)) }
        }
    }
}

/// The token `hearth login` keeps, and the server it is for.
struct Credentials: Codable {
    var url: String
    var token: String

    static var path: String {
        let base = ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.config"
        return base + "/hearth/credentials"
    }

    static func load() -> Credentials? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(Credentials.self, from: data)
    }

    func save() throws {
        let directory = (Self.path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = Self.path + ".tmp"
        FileManager.default.createFile(atPath: temporary, contents: try JSONEncoder().encode(self), attributes: [.posixPermissions: 0o600])
        guard rename(temporary, Self.path) == 0 else { throw ValidationError("cannot write \(Self.path)") }
    }
}

enum Prompt {
    static func line(_ prompt: String) -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        return readLine(strippingNewline: true) ?? ""
    }

    static func secret(_ prompt: String) -> String {
        guard isatty(0) == 1 else { return line(prompt) }
        var saved = termios()
        tcgetattr(0, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSANOW, &quiet)
        defer {
            tcsetattr(0, TCSANOW, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return line(prompt)
    }
}

extension Duration {
    /// `90d`, `12h`, `30m` or `45s`, in seconds.
    static func parse(_ text: String) throws -> Int {
        guard let unit = text.last, let value = Int(text.dropLast()), value > 0 else {
            throw ValidationError("a duration is a number and a unit: 90d, 12h, 30m or 45s")
        }
        switch unit {
        case "d": return value * 86400
        case "h": return value * 3600
        case "m": return value * 60
        case "s": return value
        default: throw ValidationError("a duration is a number and a unit: 90d, 12h, 30m or 45s")
        }
    }
}
