import Foundation
import GRDB

/// Members' own provider keys, one per member and provider record, stored sealed.
extension AgentSessionStore {
    public func upsert(_ key: AgentUserKeyRecord) throws {
        try db.write { db in try key.save(db) }
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
