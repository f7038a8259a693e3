import CHearthNet
import Foundation
import HearthCore
import Logging

/// A workspace's tracked connections in the host's conntrack table, found by the workspace's
/// occupancy mark (`NFTRules.attach`) over ctnetlink and deleted one by one. A deleted TCP or UDP
/// entry is not picked up again: a later packet of that connection makes a new entry without the
/// mark, which passes neither way.
extension WorkspaceNetworks {
    /// The most connections of one workspace looked at in one pass (20 bytes each).
    static let maxListedConnections = 16_384

    /// Deletes the connections marked `occupancy` that `keep` (destination, protocol, port) does
    /// not keep; returns how many went. Blocking netlink calls, each bounded (a 5 s receive
    /// timeout); the kernel walks its table once for the listing.
    func cutConnections(marked occupancy: UInt32, workspace: String,
                        keep: (IPv4, NetworkRule.Proto, UInt16) -> Bool) -> Int {
        var tuples = [hearth_ct_tuple](repeating: hearth_ct_tuple(), count: Self.maxListedConnections)
        let listed = tuples.withUnsafeMutableBufferPointer { hearth_conntrack_list_mark(occupancy, $0.baseAddress, Int32($0.count)) }
        guard listed >= 0 else {
            logger.warning("workspace connections could not be listed", metadata: ["workspace.id": "\(workspace)",
                                                                                  "error": "\(String(cString: strerror(-listed)))"])
            return 0
        }
        var cut = 0
        for var tuple in tuples.prefix(Int(listed)) {
            let proto: NetworkRule.Proto = tuple.protocol == UInt8(IPPROTO_TCP) ? .tcp : .udp
            if keep(IPv4(UInt32(bigEndian: tuple.destination)), proto, UInt16(bigEndian: tuple.destination_port)) { continue }
            let deleted = hearth_conntrack_delete(&tuple)
            if deleted == 0 {
                cut += 1
            } else {
                logger.warning("a workspace connection could not be removed", metadata: ["workspace.id": "\(workspace)",
                                                                                        "error": "\(String(cString: strerror(-deleted)))"])
            }
        }
        return cut
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
