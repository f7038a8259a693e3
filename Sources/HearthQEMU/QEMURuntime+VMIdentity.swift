public import Foundation
public import HearthCore
public import Synchronization

/// Each microVM runs as a uid (and gid) of its own, so a VMM taken over by its guest cannot signal,
/// trace or read another VM's QEMU, nor open another VM's files should a path ever leak into a jail.
///
/// The uid is allocated from `QEMUConfiguration.vmUIDs` (never an account in the passwd database),
/// starting at a point derived from the workspace id and probing upward past uids other workspaces
/// hold, and is recorded in the workspace's root-owned state directory so it never changes. The
/// range's last uid is kept for the acceleration probe.
enum VMIdentity {
    private static let allocating = Mutex<Void>(())

    static func file(_ layout: QEMULayout) -> String { layout.base + "/vm-uid" }

    static func recorded(_ layout: QEMULayout, in range: ClosedRange<UInt32>) -> UInt32? {
        guard let text = try? String(contentsOfFile: file(layout), encoding: .utf8),
              let uid = UInt32(text.trimmingCharacters(in: .whitespacesAndNewlines)), range.contains(uid) else { return nil }
        return uid
    }

    /// The uid the acceleration probe runs as: outside every workspace's allocation.
    static func probe(_ range: ClosedRange<UInt32>) -> (uid: UInt32, gid: UInt32) { (range.upperBound, range.upperBound) }

    /// This workspace's ids, allocated on first use. Its siblings in the workspaces directory are
    /// the other workspaces whose uids it must not share.
    static func ids(for layout: QEMULayout, id: String, range: ClosedRange<UInt32>) throws -> (uid: UInt32, gid: UInt32) {
        try allocating.withLock { _ in
            if let uid = recorded(layout, in: range) { return (uid, uid) }
            let parent = URL(fileURLWithPath: layout.base).deletingLastPathComponent().path
            var taken = Set<UInt32>()
            for sibling in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
                if let uid = recorded(QEMULayout(base: parent + "/" + sibling), in: range) { taken.insert(uid) }
            }
            // The last uid belongs to the probe.
            let count = UInt64(range.upperBound - range.lowerBound)
            guard count > 0 else { throw HearthError(.runtimeUnavailable, "the microVM uid range is too small") }
            let start = stableHash(id) % count
            for step in 0..<count {
                let uid = range.lowerBound + UInt32((start + step) % count)
                guard !taken.contains(uid), getpwuid(uid) == nil else { continue }
                try FileManager.default.createDirectory(atPath: layout.base, withIntermediateDirectories: true)
                try String(uid).write(toFile: file(layout), atomically: true, encoding: .utf8)
                return (uid, uid)
            }
            throw HearthError(.runtimeUnavailable, "no free uid is left for another microVM",
                              detail: "range \(range.lowerBound)...\(range.upperBound) is full")
        }
    }

    /// FNV-1a: stable across runs, unlike Swift's seeded `Hasher`.
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}
