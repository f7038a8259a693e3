import Foundation
import GRDB

extension AuditLog {
    public struct Verification: Codable, Sendable, Equatable {
        public var events: Int
        /// Each finding names the event where the chain breaks and how.
        public var problems: [String]
        public var ok: Bool { problems.isEmpty }
    }

    /// Walks the whole chain: every event's MAC must match its content under the key, every event
    /// must name its predecessor's hash, numbers must run without gaps, and the last event must be
    /// the one the head file records under its own MAC, and no older than the anchor beside the key.
    public func verify() throws -> Verification {
        var problems: [String] = []
        var count = 0
        var previous: AuditEvent?
        let key = self.key
        let anchorSeq = readAnchor()?.seq
        var anchoredHash: String?
        let cursorProblems = try db.read { db -> [String] in
            var found: [String] = []
            let cursor = try AuditEvent.order(Column("seq")).fetchCursor(db)
            while let event = try cursor.next() {
                count += 1
                let expectedSeq = (previous?.seq ?? 0) &+ 1
                if event.seq != expectedSeq {
                    found.append("event \(expectedSeq)\(event.seq > expectedSeq &+ 1 ? "-\(event.seq &- 1)" : "") is missing")
                }
                if event.previousHash != (previous?.hash ?? AuditEvent.genesis) {
                    found.append("event \(event.seq) does not follow event \(previous?.seq ?? 0): removed or reordered")
                }
                // Events from before the log was keyed keep their plain hash; the key file says where they end.
                let expected: String
                if let legacy = key.legacy, event.seq <= legacy.seq {
                    expected = event.computedHash()
                    if event.seq == legacy.seq, event.hash != legacy.hash {
                        found.append("event \(event.seq) is not the event the log ended with when it was keyed")
                    }
                } else {
                    expected = key.mac(event.canonicalBytes)
                }
                if !macEquals(expected, event.hash) {
                    found.append("event \(event.seq) was edited: its content does not match its hash")
                }
                if event.seq == anchorSeq { anchoredHash = event.hash }
                previous = event
                if found.count >= 100 { break }
            }
            return found
        }
        problems += cursorProblems
        if let legacy = key.legacy, (previous?.seq ?? 0) < legacy.seq {
            problems.append("events up to \(legacy.seq), written before the log was keyed, were removed")
        }
        problems += anchorProblems(last: previous?.seq ?? 0) { $0 == anchorSeq ? anchoredHash : nil }
        guard headPath != nil else { return Verification(events: count, problems: problems) }
        guard let head = readHead() else {
            if let last = previous { problems.append("the head file is missing; it should record event \(last.seq)") }
            return Verification(events: count, problems: problems)
        }
        guard head.authentic else {
            problems.append("the head file was not written by this log: its MAC does not match")
            return Verification(events: count, problems: problems)
        }
        if let last = previous, last.seq < head.seq {
            problems.append("events \(last.seq &+ 1)-\(head.seq) were removed from the end")
        } else if previous == nil, head.seq > 0 {
            problems.append("events 1-\(head.seq) were removed")
        } else if let last = previous, last.seq == head.seq, last.hash != head.hash {
            problems.append("event \(last.seq) is not the event the head records")
        }
        // Events past the head (a crash between commit and head write) carry valid MACs, which
        // only the key's holder can make, so they are not a finding.
        return Verification(events: count, problems: problems)
    }
}
