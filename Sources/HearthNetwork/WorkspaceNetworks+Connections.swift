import CHearthNet
import Foundation
import HearthCore
import Logging
import Synchronization

// A workspace's tracked connections in the host's conntrack table, found by the workspace's
// occupancy mark (`NFTRules.attach`) over ctnetlink and deleted one by one. A deleted entry is not
// picked up again: a later packet of that connection makes a new entry without the mark, which
// passes neither way.

/// Cuts waiting for the conntrack queue, one per workspace mark: a later request for the same mark
/// joins the waiting one and brings the newest policy, so a member looping policy changes costs one
/// cut at a time, not a queue of them, and other tenants' cuts wait behind at most one of theirs.
final class PendingCuts: Sendable {
    struct Cut {
        var judge: ConnectionJudge?
        var resolvedNames: [IPv4: [String]]
        var waiters: [CheckedContinuation<Int, Never>]
    }
    let waiting = Mutex<[UInt32: Cut]>([:])
}

extension WorkspaceNetworks {
    /// Deletes the connections marked `occupancy` that `judge` does not keep (all of them without
    /// one); returns how many went. Off the actor, on a queue of its own: the kernel walks the
    /// host's whole table for the listing, and each delete waits for the kernel's answer (at most
    /// 5 s), time other workspaces' DNS must not wait behind.
    func cutConnections(marked occupancy: UInt32, workspace: String, judge: ConnectionJudge?,
                        resolvedNames: [IPv4: [String]] = [:]) async -> Int {
        let logger = self.logger
        let pending = pendingCuts
        return await withCheckedContinuation { continuation in
            let schedule = pending.waiting.withLock { waiting -> Bool in
                if var cut = waiting[occupancy] {
                    // The waiting cut takes the newest policy: a detach's (keep nothing) wins.
                    if cut.judge != nil { cut.judge = judge }
                    cut.resolvedNames = resolvedNames
                    cut.waiters.append(continuation)
                    waiting[occupancy] = cut
                    return false
                }
                waiting[occupancy] = PendingCuts.Cut(judge: judge, resolvedNames: resolvedNames, waiters: [continuation])
                return true
            }
            guard schedule else { return }
            Self.conntrackQueue.async {
                guard let cut = pending.waiting.withLock({ $0.removeValue(forKey: occupancy) }) else { return }
                let count = Self.cut(marked: occupancy, workspace: workspace, judge: cut.judge, resolvedNames: cut.resolvedNames, logger: logger)
                cut.waiters.forEach { $0.resume(returning: count) }
            }
        }
    }

    private static let conntrackQueue = DispatchQueue(label: "hearth.network.conntrack")

    /// Every connection marked `occupancy`, with no service running (an earlier run's leftovers).
    static func cutAll(marked occupancy: UInt32, workspace: String, logger: Logger) async -> Int {
        await withCheckedContinuation { continuation in
            conntrackQueue.async {
                continuation.resume(returning: cut(marked: occupancy, workspace: workspace, judge: nil, resolvedNames: [:], logger: logger))
            }
        }
    }

    private static func cut(marked occupancy: UInt32, workspace: String, judge: ConnectionJudge?,
                            resolvedNames: [IPv4: [String]], logger: Logger) -> Int {
        var judge = judge
        // Room for a workspace's usual few connections first; a workspace with more gets a
        // second pass with room for all it had (no more than the host's table can hold).
        var capacity = 4096
        var cut = 0
        var unseen = 0
        for _ in 0..<2 {
            var tuples = [hearth_ct_tuple](repeating: hearth_ct_tuple(), count: capacity)
            var seen: Int32 = 0
            let listed = tuples.withUnsafeMutableBufferPointer { hearth_conntrack_list_mark(occupancy, $0.baseAddress, Int32($0.count), &seen) }
            guard listed >= 0 else {
                logger.warning("workspace connections could not be listed", metadata: ["workspace.id": "\(workspace)",
                                                                                      "error": "\(String(cString: strerror(-listed)))"])
                return cut
            }
            var doomed: [hearth_ct_tuple] = []
            for tuple in tuples.prefix(Int(listed)) where !Self.keeps(tuple, judge: &judge, resolvedNames: resolvedNames) {
                doomed.append(tuple)
            }
            let deleted = doomed.withUnsafeBufferPointer { hearth_conntrack_delete($0.baseAddress, Int32($0.count)) }
            if deleted < 0 {
                logger.warning("workspace connections could not be removed", metadata: ["workspace.id": "\(workspace)",
                                                                                       "network.connections_cut": "\(cut)",
                                                                                       "error": "\(String(cString: strerror(-deleted)))"])
                return cut
            }
            cut += Int(deleted)
            unseen = Int(seen) - Int(listed)
            guard unseen > 0, capacity < tableSize() else { break }
            capacity = min(Int(seen) + 4096, tableSize())
        }
        if unseen > 0 {
            logger.warning("workspace connections left unexamined", metadata: ["workspace.id": "\(workspace)", "network.connections_left": "\(unseen)"])
        }
        return cut
    }

    /// TCP and UDP connections go on where the judge keeps them; others (ICMP, anything a guest
    /// can send) only in `open` mode; nothing without a judge (a detach).
    private static func keeps(_ tuple: hearth_ct_tuple, judge: inout ConnectionJudge?, resolvedNames: [IPv4: [String]]) -> Bool {
        guard let open = judge?.open else { return false }
        let proto: NetworkRule.Proto
        switch tuple.protocol {
        case UInt8(IPPROTO_TCP): proto = .tcp
        case UInt8(IPPROTO_UDP): proto = .udp
        default: return open
        }
        let destination = IPv4(UInt32(bigEndian: tuple.destination))
        return judge?.keeps(destination, proto, UInt16(bigEndian: tuple.destination_port), resolvedFrom: resolvedNames[destination] ?? []) ?? false
    }

    /// The most connections of one workspace looked at in one pass (20 bytes each).
    static let maxListedConnections = 1 << 20

    /// The host's connection-tracking table size (`nf_conntrack_max`; 0 is "no limit"), within bounds.
    private static func tableSize() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/netfilter/nf_conntrack_max", encoding: .utf8)) ?? ""
        let size = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 262_144
        return size <= 0 ? maxListedConnections : min(max(size, 4096), maxListedConnections)
    }

    /// Notes that `name` resolved to `addresses` for this workspace, so a later policy change can
    /// tell which of its connections the new policy still allows. Bounded: past 4,096 addresses the
    /// history starts again (a tightening after that cuts connections to names resolved before).
    func noteResolved(_ name: String, to addresses: [IPv4], in a: inout Attached) {
        for address in addresses {
            if a.resolvedNames[address] == nil, a.resolvedNames.count >= 4096 { a.resolvedNames.removeAll() }
            var names = a.resolvedNames[address] ?? []
            if !names.contains(name) {
                if names.count >= 8 { names.removeFirst() }
                names.append(name)
            }
            a.resolvedNames[address] = names
        }
    }
}
