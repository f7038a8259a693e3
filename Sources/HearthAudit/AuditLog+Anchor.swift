import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import HearthCore

/// The anchor: the newest event's number and hash under a MAC of their own, in a file beside the
/// key (`audit.key.anchor`, mode 0600), in the key's protection rather than the database's.
///
/// The head file beside the database stops a tail cut together with a forged head, but not with
/// an older, genuine head file replayed: anyone who could once read the head can keep a copy. The
/// anchor is as private as the key, so whoever cannot read the key cannot have kept an older anchor
/// to replay, and `verify` compares the log with it. It only moves forward: an append whose
/// predecessor lies behind the anchor (the tail was cut) leaves the anchor where it is, and a
/// missing or forged anchor is never rewritten, so the evidence stays until an operator looks.
/// Whoever can read the key (root on the host) can replay both; only a copy of the head shipped
/// off the host (a SIEM) closes that.
extension AuditLog {
    struct Anchor {
        var seq: Int64
        var hash: String
        var authentic: Bool
    }

    func readAnchor() -> Anchor? {
        guard let anchorPath else { return nil }
        let fd = open(anchorPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return Anchor(seq: 0, hash: "", authentic: false) }
        let parts = String(decoding: buffer[..<n], as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard parts.count == 4, parts[0] == "v1", let seq = Int64(parts[1]), seq >= 0 else { return Anchor(seq: 0, hash: "", authentic: false) }
        let hash = String(parts[2])
        return Anchor(seq: seq, hash: hash, authentic: macEquals(String(parts[3]), key.anchorMAC(seq: seq, hash: hash)))
    }

    /// Writes the anchor for event `seq` (0 and the genesis hash for an empty log) under `key`.
    static func writeAnchor(at path: String, seq: Int64, hash: String, key: AuditKey, counter: Int) throws {
        try AuditFile.replace(path, with: Array("v1 \(seq) \(hash) \(key.anchorMAC(seq: seq, hash: hash))\n".utf8), what: "the audit anchor")
    }

    /// Moves the anchor to `event` if the event it records is still in the log, at or behind
    /// `event`'s predecessor; otherwise (missing, forged, ahead of the log, or naming an event that
    /// was replaced) leaves it as the evidence it is.
    func advanceAnchor(to event: AuditEvent, counter: Int) throws {
        guard let anchorPath, key.anchored, let anchor = readAnchor(), anchor.authentic, anchor.seq < event.seq else { return }
        let recorded: String?
        if anchor.seq == event.seq &- 1 {
            recorded = event.previousHash
        } else if anchor.seq == 0 {
            recorded = AuditEvent.genesis
        } else {
            // Behind by more than one (a crash between a commit and its anchor): look the event up.
            recorded = try db.read { db in try AuditEvent.fetchOne(db, key: anchor.seq)?.hash }
        }
        guard recorded == anchor.hash else { return }
        try Self.writeAnchor(at: anchorPath, seq: event.seq, hash: event.hash, key: key, counter: counter)
    }

    /// What the anchor says about a log whose events are `hashes` by number up to `last`:
    /// nothing if it is consistent, else each finding.
    func anchorProblems(last: Int64, hashAt: (Int64) -> String?) -> [String] {
        guard anchorPath != nil, key.anchored else { return [] }
        guard let anchor = readAnchor() else { return ["the anchor beside the audit key is missing"] }
        guard anchor.authentic else { return ["the anchor beside the audit key was not written by this log: its MAC does not match"] }
        if last < anchor.seq {
            return ["events \(last &+ 1)-\(anchor.seq) were removed from the end (the anchor beside the audit key records event \(anchor.seq))"]
        }
        if anchor.seq > 0, let hash = hashAt(anchor.seq), hash != anchor.hash {
            return ["event \(anchor.seq) is not the event the anchor beside the audit key records"]
        }
        return []
    }
}
