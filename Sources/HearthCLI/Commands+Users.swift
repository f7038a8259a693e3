import ArgumentParser
import Foundation
import HearthAPI
import HearthClient

/// `hearth user list|disable|enable|delete|role|password` and `hearth session list|revoke`.
/// Users are named by email; `--tenant` reaches another tenant's (the operator only).
extension UserCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users of your tenant (or, the operator, of --tenant).")
        @OptionGroup var client: ClientOptions
        @Option var tenant: String?
        @Flag var json = false
        func run() async throws {
            let c = try client.client()
            let users = try await withClientErrors { try await c.users(tenant: tenant) }
            if json { try Terminal.printJSON(users); return }
            for u in users { print("\(u.id)  \(u.email)  \(u.role)\(u.disabled_at == nil ? "" : "  disabled")") }
        }
    }

    /// The user a command acts on, named by email (`--tenant`: another tenant's, the operator only).
    struct Target: ParsableArguments {
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user's email") var email: String
        @Option var tenant: String?

        /// Looks the user up, then runs `body` with the client and the user.
        func withUser<T>(_ body: (HearthClient, API.UserBody) async throws -> T) async throws -> T {
            let c = try client.client()
            return try await withClientErrors { try await body(c, try await c.user(email: email, tenant: tenant)) }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user: ends their sessions and revokes their tokens.")
        @OptionGroup var target: Target
        func run() async throws {
            _ = try await target.withUser { c, user in try await c.updateUser(id: user.id, API.UpdateUserBody(disabled: true)) }
            print("disabled \(target.email); their sessions and tokens have ended")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user (their old tokens stay revoked).")
        @OptionGroup var target: Target
        func run() async throws {
            _ = try await target.withUser { c, user in try await c.updateUser(id: user.id, API.UpdateUserBody(disabled: false)) }
            print("enabled \(target.email)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user with their sessions and tokens.")
        @OptionGroup var target: Target
        func run() async throws {
            try await target.withUser { c, user in try await c.deleteUser(id: user.id) }
            print("deleted \(target.email)")
        }
    }

    struct RoleChange: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "role", abstract: "Change a user's role (admin, member or viewer).")
        @OptionGroup var target: Target
        @Argument var role: String
        func run() async throws {
            let updated = try await target.withUser { c, user in try await c.updateUser(id: user.id, API.UpdateUserBody(role: role)) }
            print("\(updated.email) is now \(updated.role)")
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reset a user's password (admins), or change your own with --current-stdin; reads standard input.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user; omit to change your own password") var email: String?
        @Option var tenant: String?
        @Flag(help: "Read the new password from standard input") var passwordStdin = false
        @Flag(help: "Changing your own: the first line of standard input is the current password, the second the new one")
        var currentStdin = false
        func validate() throws {
            guard passwordStdin else { throw ValidationError("pass --password-stdin and the password on standard input") }
        }
        func run() async throws {
            let current = currentStdin ? (readLine(strippingNewline: true) ?? "") : nil
            let password = readLine(strippingNewline: true) ?? ""
            let c = try client.client()
            try await withClientErrors {
                // Without an email, your own (in your own tenant).
                let name: String
                if let email { name = email } else { name = try await c.whoami().user }
                let user = try await c.user(email: name, tenant: email == nil ? nil : tenant)
                try await c.setPassword(userId: user.id, password, current: current)
            }
            print("password changed; the user's browser sessions have ended")
        }
    }
}

struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "session", abstract: "List and revoke browser sessions.",
                                                    subcommands: [List.self, Revoke.self])
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your sessions, or (admins) a user's.")
        @OptionGroup var client: ClientOptions
        @Option(help: "The user's email (admins)") var user: String?
        @Option var tenant: String?
        @Flag var json = false
        func run() async throws {
            let c = try client.client()
            let sessions = try await withClientErrors {
                let id = try await user.asyncMap { try await c.user(email: $0, tenant: tenant).id }
                return try await c.sessions(userId: id)
            }
            if json { try Terminal.printJSON(sessions); return }
            let iso = ISO8601DateFormatter()
            for s in sessions { print("\(s.id)  \(s.user)  since \(iso.string(from: s.created_at))  until \(iso.string(from: s.expires_at))") }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a browser session.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws {
            let c = try client.client()
            try await withClientErrors { try await c.revokeSession(id) }
            print("revoked session \(id)")
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
