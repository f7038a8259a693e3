import ArgumentParser
import HearthAPI
import HearthClient

/// `hearth tenant quota NAME [--workspaces N] [--cpus N] [--memory MiB] [--disk MiB]`: shows a
/// tenant's quota and use, or (the operator) sets it. `--unlimited` clears every limit.
struct TenantQuotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "quota", abstract: "Show or set a tenant's quota.")
    @OptionGroup var client: ClientOptions
    @Argument var tenant: String
    @Option(help: "Workspaces the tenant may hold") var workspaces: Int?
    @Option(help: "Total vCPUs over its workspaces") var cpus: Double?
    @Option(help: "Total memory, MiB") var memory: Int?
    @Option(help: "Total disk, MiB") var disk: Int?
    @Flag(help: "Remove every limit") var unlimited = false
    @Flag var json = false

    func run() async throws {
        let c = try client.client()
        let setting = unlimited || workspaces != nil || cpus != nil || memory != nil || disk != nil
        let answer = try await withClientErrors {
            guard setting else { return try await c.quota(tenant: tenant) }
            var body = unlimited ? API.QuotaBody() : try await c.quota(tenant: tenant)
            body.used = nil
            if let workspaces { body.workspaces = workspaces }
            if let cpus { body.cpus = cpus }
            if let memory { body.memory_mib = memory }
            if let disk { body.disk_mib = disk }
            return try await c.setQuota(tenant: tenant, body)
        }
        if json { return try Terminal.printJSON(answer) }
        func show(_ value: (some CustomStringConvertible)?) -> String { value.map(\.description) ?? "unlimited" }
        let used = answer.used
        print("workspaces \(used.map { "\($0.workspaces)" } ?? "?") of \(show(answer.workspaces))")
        print("vCPUs      \(used.map { "\($0.cpus)" } ?? "?") of \(show(answer.cpus))")
        print("memory     \(used.map { "\($0.memory_mib)" } ?? "?") of \(show(answer.memory_mib)) MiB")
        print("disk       \(used.map { "\($0.disk_mib)" } ?? "?") of \(show(answer.disk_mib)) MiB")
    }
}
