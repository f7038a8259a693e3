import Foundation
import GRDB
@testable import HearthAudit
import Testing

/// Issue 14 #12: the chain is keyed by a file the database does not hold, its head carries its own
/// MAC, and concurrent appends neither race nor lose events.
@Suite struct AuditLogKeyTests {
    static func directory() throws -> String {
        let dir = NSTemporaryDirectory() + "audit-key-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func fill(_ log: AuditLog, _ count: Int) throws {
        for i in 1...count {
            try log.append(AuditRecord(tenant: "default", actor: "admin", action: "workspace.create", target: "ws_\(i)"))
        }
    }

    @Test func theKeyIsAPrivateFileBesideTheDatabaseAndTheChainUsesIt() throws {
        let dir = try Self.directory()
        let log = try AuditLog(path: dir + "/audit.sqlite")
        try Self.fill(log, 3)
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/audit.key")[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let event = try #require(try log.events().last)
        #expect(event.hash != event.computedHash(), "an event's hash is a MAC, not a plain SHA-256")
        // The database holds no copy of the key.
        let keyText = try String(contentsOfFile: dir + "/audit.key", encoding: .utf8)
        let keyHex = String(keyText.split(separator: " ")[1])
        let dump = try DatabaseQueue(path: dir + "/audit.sqlite").read { db in
            try String.fetchAll(db, sql: "SELECT actor || target || detail || hash || previousHash FROM auditEvent").joined()
        }
        #expect(!dump.contains(keyHex))
        // A reopened log keeps its key and still verifies.
        #expect(try AuditLog(path: dir + "/audit.sqlite").verify().ok)
    }

    /// The attack of the review: cut the tail and rewrite the head file to match. Today's unkeyed
    /// chain verified; the head's MAC now exposes it.
    @Test func cuttingTheTailAndRewritingTheHeadIsDetected() throws {
        let dir = try Self.directory()
        let log = try AuditLog(path: dir + "/audit.sqlite")
        try Self.fill(log, 10)
        let eighth = try #require(try log.events().first { $0.seq == 8 })
        try DatabaseQueue(path: dir + "/audit.sqlite").write { db in try db.execute(sql: "DELETE FROM auditEvent WHERE seq > 8") }
        try "8 \(eighth.hash)\n".write(toFile: dir + "/audit.sqlite.head", atomically: true, encoding: .utf8)
        #expect(try log.verify().problems == ["events 9-10 were removed from the end (the anchor beside the audit key records event 10)", "the head file was not written by this log: its MAC does not match"])
        try "8 \(eighth.hash) \(String(repeating: "0", count: 64))\n".write(toFile: dir + "/audit.sqlite.head", atomically: true, encoding: .utf8)
        #expect(!(try log.verify().ok))
    }

    @Test func cuttingTheTailAndDeletingTheHeadIsDetected() throws {
        let dir = try Self.directory()
        let log = try AuditLog(path: dir + "/audit.sqlite")
        try Self.fill(log, 10)
        try DatabaseQueue(path: dir + "/audit.sqlite").write { db in try db.execute(sql: "DELETE FROM auditEvent WHERE seq > 8") }
        unlink(dir + "/audit.sqlite.head")
        #expect(try log.verify().problems == ["events 9-10 were removed from the end (the anchor beside the audit key records event 10)", "the head file is missing; it should record event 8"])
    }

    /// 320 appends from many threads at once: every one succeeds (today's shared `.head.tmp`
    /// made 133 of them fail) and the chain and head verify.
    @Test func concurrentAppendsAllSucceedAndVerify() async throws {
        let dir = try Self.directory()
        let log = try AuditLog(path: dir + "/audit.sqlite")
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<320 {
                group.addTask {
                    do {
                        try log.append(AuditRecord(tenant: "default", actor: "admin", action: "exec", target: "ws_\(i)"))
                        return 0
                    } catch { return 1 }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(failures == 0)
        let result = try log.verify()
        #expect(result.ok && result.events == 320, "\(result.problems)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }
    /// The replay the head file cannot stop: cut the tail, then put back a genuine head file
    /// saved before the cut events were written. The anchor beside the key still records the
    /// newest event, and appends after the cut do not move it.
    @Test func replayingAnOlderGenuineHeadAfterCuttingTheTailIsDetected() throws {
        let dir = try Self.directory()
        let log = try AuditLog(path: dir + "/audit.sqlite")
        try Self.fill(log, 5)
        let savedHead = try Data(contentsOf: URL(fileURLWithPath: dir + "/audit.sqlite.head"))
        try Self.fill(log, 3)
        try DatabaseQueue(path: dir + "/audit.sqlite").write { db in try db.execute(sql: "DELETE FROM auditEvent WHERE seq > 5") }
        try savedHead.write(to: URL(fileURLWithPath: dir + "/audit.sqlite.head"))
        let found = "events 6-8 were removed from the end (the anchor beside the audit key records event 8)"
        #expect(try log.verify().problems == [found])
        #expect(try AuditLog(path: dir + "/audit.sqlite").verify().problems == [found], "reopening does not re-anchor")
        // New events that reuse the cut numbers neither hide the cut nor move the anchor.
        try Self.fill(log, 4)
        #expect(try log.verify().problems == ["event 8 is not the event the anchor beside the audit key records"])
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/audit.key.anchor")[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
    }

    @Test func aMissingOrForgedAnchorIsFoundAndNotRewritten() throws {
        let dir = try Self.directory()
        let log = try AuditLog(path: dir + "/audit.sqlite")
        try Self.fill(log, 3)
        #expect(try log.verify().ok)
        unlink(dir + "/audit.key.anchor")
        try Self.fill(log, 1)
        #expect(try log.verify().problems == ["the anchor beside the audit key is missing"])
        try "v1 4 \(String(repeating: "a", count: 64)) \(String(repeating: "0", count: 64))\n"
            .write(toFile: dir + "/audit.key.anchor", atomically: true, encoding: .utf8)
        try Self.fill(log, 1)
        #expect(try log.verify().problems == ["the anchor beside the audit key was not written by this log: its MAC does not match"])
    }

    /// A key file from before anchors (four fields) gets an anchor for the log as it stands when
    /// next opened, and says so; from then on the anchor follows every append.
    @Test func aKeyFromBeforeAnchorsIsAnchoredOnOpen() throws {
        let dir = try Self.directory()
        do {
            let log = try AuditLog(path: dir + "/audit.sqlite")
            try Self.fill(log, 3)
        }
        let keyText = try String(contentsOfFile: dir + "/audit.key", encoding: .utf8)
        #expect(keyText.hasSuffix(" anchored\n"))
        try keyText.replacingOccurrences(of: " anchored\n", with: "\n").write(toFile: dir + "/audit.key", atomically: true, encoding: .utf8)
        unlink(dir + "/audit.key.anchor")
        let log = try AuditLog(path: dir + "/audit.sqlite")
        #expect(log.key.anchored)
        #expect(try log.verify().ok)
        try Self.fill(log, 2)
        #expect(try log.verify().ok)
        #expect(log.readAnchor()?.seq == 5)
    }

    /// A log written before the key existed keeps verifying: its old events by plain SHA-256, up
    /// to where the key file says they end, and everything after by MAC.
    @Test func aLogFromBeforeTheKeyIsAdoptedAndStaysVerifiable() throws {
        let dir = try Self.directory()
        let path = dir + "/audit.sqlite"
        do {
            // An unkeyed log as the old code wrote it.
            let db = try DatabaseQueue(path: path)
            _ = try AuditLog(db: db)
            try db.write { db in
                var previous = AuditEvent.genesis
                for seq in Int64(1)...4 {
                    var event = AuditEvent(seq: seq, timeMillis: 1_800_000_000_000, tenant: "default", actor: "admin", action: "signin",
                                           target: "", sourceIP: "", result: "ok", detail: "", previousHash: previous, hash: "")
                    event.hash = event.computedHash()
                    try event.insert(db)
                    previous = event.hash
                }
            }
        }
        let log = try AuditLog(path: path)
        #expect(log.key.legacy?.seq == 4)
        try Self.fill(log, 2)
        #expect(try log.verify().ok)
        // Cutting the old events is still found, through the key file's record of where they end.
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "DELETE FROM auditEvent") }
        #expect(!(try log.verify().ok))
    }
}
