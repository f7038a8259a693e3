import Foundation
import GRDB
import HearthAudit
import Testing

@Suite struct AuditLogTests {
    static func log(_ count: Int) throws -> (AuditLog, DatabaseQueue, String) {
        let head = NSTemporaryDirectory() + "audit-\(UUID().uuidString).head"
        let db = try DatabaseQueue()
        let log = try AuditLog(db: db, headPath: head)
        for i in 1...count {
            try log.append(AuditRecord(tenant: "default", actor: "admin", action: "workspace.create", target: "ws_\(i)",
                                       sourceIP: "127.0.0.1", detail: "n=\(i)"),
                           now: Date(timeIntervalSince1970: 1_800_000_000 + Double(i)))
        }
        return (log, db, head)
    }

    /// ARCHITECTURE promises that an event is synced before the action it records answers.
    @Test func appendsAreSyncedOnDisk() throws {
        let directory = NSTemporaryDirectory() + "audit-sync-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try AuditLog(path: directory + "/audit.sqlite")
        try log.append(AuditRecord(tenant: "default", actor: "admin", action: "workspace.create", target: "ws_1", sourceIP: "127.0.0.1"))
        #expect(try log.appendSynchronousLevel() == 2)
    }

    /// Appends that arrive while one is being synced are committed together, in order, each
    /// chained: many callers cost a few syncs, not one each; detached ones land too, in order.
    @Test func concurrentAppendsAreGroupCommittedAndChained() async throws {
        let directory = "/var/tmp/audit-group-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try AuditLog(path: directory + "/audit.sqlite")
        @Sendable func record(_ i: Int) -> AuditRecord {
            AuditRecord(tenant: "t\(i % 3)", actor: "member", action: "terminal.share", target: "ws_\(i)", sourceIP: "127.0.0.1")
        }
        for i in 0..<20 { #expect(log.appendDetached(record(1000 + i))) }
        let sequences = try await withThrowingTaskGroup(of: Int64.self) { group in
            for i in 0..<200 { group.addTask { try await log.appendOffPool(record(i)).seq } }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        for i in 0..<10 { #expect(log.appendDetached(record(2000 + i))) }
        await log.settle()
        #expect(try log.verify().events == 230, "settle returns once everything queued is committed")
        let last = try await log.appendOffPool(record(9999))
        #expect(Set(sequences).count == 200)
        #expect(last.seq == 231, "the detached records were committed before it")
        let verified = try log.verify()
        #expect(verified.ok && verified.events == 231, "\(verified)")
        #expect(try log.events(after: 0, limit: 20).map(\.target) == (1000..<1020).map { "ws_\($0)" }, "the detached ones first, in order")
        #expect(log.groupCommitStatistics.commits < 100, "\(log.groupCommitStatistics.commits) commits for 231 appends")
        #expect(try log.appendSynchronousLevel() == 2)
    }

    @Test func anIntactChainVerifies() throws {
        let (log, _, _) = try Self.log(10)
        let result = try log.verify()
        #expect(result.ok && result.events == 10)
        #expect(try log.events(since: Date(timeIntervalSince1970: 1_800_000_006)).map(\.seq) == [6, 7, 8, 9, 10])
    }

    @Test func anEditedEventIsNamed() throws {
        let (log, db, _) = try Self.log(10)
        try db.write { db in try db.execute(sql: "UPDATE auditEvent SET actor = 'mallory' WHERE seq = 4") }
        #expect(try log.verify().problems == ["event 4 was edited: its content does not match its hash"])
    }

    /// Without the key, an attacker who edits an event cannot give it a valid hash: plain SHA-256
    /// (what anyone can compute) no longer passes.
    @Test func anEditRehashedWithoutTheKeyIsNamed() throws {
        let (log, db, _) = try Self.log(10)
        var event = try #require(try log.events().first { $0.seq == 4 })
        event.actor = "mallory"
        event.hash = event.computedHash()
        try db.write { db in try event.update(db) }
        let problems = try log.verify().problems
        #expect(problems.contains("event 4 was edited: its content does not match its hash"))
        #expect(problems.contains("event 5 does not follow event 4: removed or reordered"))
    }

    @Test func aRemovedEventIsNamed() throws {
        let (log, db, _) = try Self.log(10)
        try db.write { db in try db.execute(sql: "DELETE FROM auditEvent WHERE seq = 7") }
        let problems = try log.verify().problems
        #expect(problems.contains("event 7 is missing"))
        #expect(problems.contains("event 8 does not follow event 6: removed or reordered"))
    }

    @Test func reorderedEventsAreDetected() throws {
        let (log, db, _) = try Self.log(10)
        // Swap the contents of events 3 and 4, keeping their numbers.
        try db.write { db in
            try db.execute(sql: "UPDATE auditEvent SET seq = -3 WHERE seq = 3")
            try db.execute(sql: "UPDATE auditEvent SET seq = 3 WHERE seq = 4")
            try db.execute(sql: "UPDATE auditEvent SET seq = 4 WHERE seq = -3")
        }
        #expect(!(try log.verify().ok))
    }

    @Test func eventsCutFromTheEndAreDetectedThroughTheHead() throws {
        let (log, db, _) = try Self.log(10)
        try db.write { db in try db.execute(sql: "DELETE FROM auditEvent WHERE seq > 8") }
        #expect(try log.verify().problems == ["events 9-10 were removed from the end"])
    }
}
