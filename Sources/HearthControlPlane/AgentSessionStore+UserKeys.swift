import Foundation
import GRDB
import HearthCore

/// Members' own provider keys, one per member and provider record, stored sealed.
extension AgentSessionStore {
    /// Stores a member's key if the record exists and is at the address the member gave, in one
    /// transaction (a record deleted or moved meanwhile is not keyed). Returns the record.
    public func setUserKey(_ key: AgentUserKeyRecord) throws -> AgentProviderRecord {
        try db.write { db in
            guard let record = try Self.provider(db, tenantId: key.tenantId, name: key.provider) else {
                throw HearthError(.notFound, "no provider \(key.provider.prefix(64))")
            }
            guard record.baseURL == key.baseURL else {
                throw HearthError(.conflict, "the provider \(key.provider.prefix(64)) is at \(record.baseURL.prefix(2048)), not the address given; check it before your key goes there")
            }
            try key.save(db)
            return record
        }
    }

    public func userKey(tenantId: String, userId: String, provider: String) throws -> AgentUserKeyRecord? {
        try db.read { db in
            try AgentUserKeyRecord.filter(Column("tenantId") == tenantId && Column("userId") == userId && Column("provider") == provider).fetchOne(db)
        }
    }

    /// The provider records this member has a key of their own for.
    public func userKeyProviders(tenantId: String, userId: String) throws -> Set<String> {
        try db.read { db in
            Set(try String.fetchAll(db, sql: "SELECT provider FROM agentUserKey WHERE tenantId = ? AND userId = ?", arguments: [tenantId, userId]))
        }
    }

    @discardableResult
    public func deleteUserKey(tenantId: String, userId: String, provider: String) throws -> Bool {
        try db.write { db in
            try db.execute(sql: "DELETE FROM agentUserKey WHERE tenantId = ? AND userId = ? AND provider = ?", arguments: [tenantId, userId, provider])
            return db.changesCount > 0
        }
    }

    /// Every key a member set, when the member is deleted.
    public func deleteUserKeys(tenantId: String, userId: String) throws {
        try db.write { db in
            try db.execute(sql: "DELETE FROM agentUserKey WHERE tenantId = ? AND userId = ?", arguments: [tenantId, userId])
        }
    }
}
