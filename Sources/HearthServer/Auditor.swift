import HearthAudit
import HearthCore
import HearthIdentity
import Logging
import HearthControlPlane

/// Records actions in the audit log. An event that cannot be recorded is logged loudly; the
/// action it describes has already happened and is not undone.
struct Auditor: Sendable {
    let log: AuditLog
    let logger: Logger

    func record(_ context: HearthContext, _ action: String, target: String = "", result: String = "ok", detail: String = "",
                principal: Principal? = nil) async {
        let who = principal ?? context.principal
        // Secrets never reach the log: an exec's command line is judged argument by argument.
        let detail = action == "exec" ? AuditRedaction.commandLine(detail) : AuditRedaction.bounded(AuditRedaction.text(detail))
        let record = AuditRecord(tenant: who?.tenantName ?? "", actor: who?.email ?? "anonymous", action: action,
                                 target: AuditRedaction.bounded(AuditRedaction.text(target)),
                                 sourceIP: context.sourceIP, result: result, detail: detail)
        do {
            _ = try await log.appendOffPool(record)
        } catch {
            logger.error("audit event lost", metadata: ["audit.action": "\(action)", "error": "\(error)"])
        }
    }

    /// An event no request caused (a workspace's network denial, sampled).
    func recordSystem(tenantId: String?, action: String, target: String, detail: String) {
        let record = AuditRecord(tenant: tenantId ?? "", actor: "hearth", action: action, target: AuditRedaction.bounded(AuditRedaction.text(target)),
                                 sourceIP: "", result: "denied", detail: AuditRedaction.bounded(AuditRedaction.text(detail)))
        // Not awaited: the caller is the network service's actor, which answers every tenant's DNS.
        if !log.appendDetached(record) {
            logger.error("audit event lost: too many waiting", metadata: ["audit.action": "\(action)"])
        }
    }

    /// Runs `body` and records its outcome: "ok" or the error's code.
    func around<T>(_ context: HearthContext, _ action: String, target: String, detail: String = "",
                   _ body: () async throws -> T) async throws -> T {
        do {
            let value = try await body()
            await record(context, action, target: target, detail: detail)
            return value
        } catch {
            await record(context, action, target: target, result: HearthError.from(error).code.rawValue, detail: detail)
            throw error
        }
    }
}
