import Foundation
import GRDB

extension AuditLog {
    public struct Verification: Codable, Sendable, Equatable {
        public var events: Int
        /// Each finding names the event where the chain breaks and how.
        public var problems: [String]
        public var ok: Bool { problems.isEmpty }
    }

    /// Walks the whole chain: every event's hash must match its content, every event must name
    /// its predecessor's hash, numbers must run without gaps, and the last event must be the
    /// one the head file records.
    public func verify() throws -> Verification {
        var problems: [String] = []
        var count = 0
        var previous: AuditEvent?
        let cursorProblems = try db.read { db -> [String] in
            var found: [String] = []
            let cursor = try AuditEvent.order(Column("seq")).fetchCursor(db)
            while let event = try cursor.next() {
                count += 1
                let expectedSeq = (previous?.seq ?? 0) + 1
                if event.seq != expectedSeq {
                    found.append("event \(expectedSeq)\(event.seq > expectedSeq + 1 ? "-\(event.seq - 1)" : "") is missing")
                }
                if event.previousHash != (previous?.hash ?? AuditEvent.genesis) {
                    found.append("event \(event.seq) does not follow event \(previous?.seq ?? 0): removed or reordered")
                }
                if event.computedHash() != event.hash {
                    found.append("event \(event.seq) was edited: its content does not match its hash")
                }
                previous = event
                if found.count >= 100 { break }
            }
            return found
        }
        problems += cursorProblems
        if let head = readHead() {
            if let last = previous, last.seq < head.seq {
                problems.append("events \(last.seq + 1)-\(head.seq) were removed from the end")
            } else if previous == nil, head.seq > 0 {
                problems.append("events 1-\(head.seq) were removed")
            } else if let last = previous, last.seq == head.seq, last.hash != head.hash {
                problems.append("event \(last.seq) is not the event the head records")
            }
        }
        return Verification(events: count, problems: problems)
    }
}
