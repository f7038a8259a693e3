import HearthCore
import HearthIdentity

extension Principal {
    /// The admin of the default tenant: the server's operator.
    var isOperator: Bool { role == .admin && tenantId == Tenancy.defaultTenantID }
}
