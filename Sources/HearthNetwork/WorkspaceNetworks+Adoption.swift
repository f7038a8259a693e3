import Foundation
import HearthRuntime
public import Logging

/// Sandboxes outlive their server: a restart (an upgrade, a crash) re-adopts the running ones
/// (`WorkspaceManager.reconcile`), so their networks must outlive it too. Every attachment is
/// recorded in the host-owned network directory; a server that stops leaves namespaces, veths and
/// the nft table in place (the kernel goes on enforcing every policy; with no resolver, no new
/// name resolves), and the next one adopts each recorded network whose namespace and veth are
/// still there: same slot, same address, same connection mark, so established connections pass
/// on. What it cannot adopt it removes, and deletes that workspace's tracked connections by mark.
extension WorkspaceNetworks {
    struct AttachmentRecord: Codable, Equatable {
        var workspace: String
        var slot: Int
        var occupancy: UInt32
        var device: WorkspaceNetworkDevice
        var tenant: String?
        /// The policy in force when it was last saved (`policyFingerprint`): an adopted workspace
        /// whose policy differs now (the operator restarted with other rules) has its connections
        /// judged again.
        var policy: String?
    }

    struct StoredAttachments: Codable, Equatable {
        /// The range the slots are in: another range makes every record meaningless.
        var network: String
        var attachments: [AttachmentRecord]
    }

    static func attachmentFile(_ configuration: NetworkConfiguration) -> String { configuration.stateDirectory + "/attachments.json" }

    func saveAttachments() {
        let stored = StoredAttachments(network: network.description, attachments: attached.keys.sorted().map { id in
            let a = attached[id]!
            return AttachmentRecord(workspace: id, slot: a.slot, occupancy: a.occupancy, device: a.device, tenant: tenants[id],
                                    policy: policyFingerprint(policy(for: id)))
        })
        do {
            try JSONEncoder().encode(stored).write(to: URL(fileURLWithPath: Self.attachmentFile(configuration)), options: .atomic)
        } catch {
            logger.error("workspace network records not saved", metadata: ["error": "\(error)"])
        }
    }

    /// The records a previous run left, bounded and checked: an id or slot that could not have been
    /// written by a server is dropped (the names built from them reach `ip`).
    static func loadAttachments(_ configuration: NetworkConfiguration) -> StoredAttachments? {
        let path = attachmentFile(configuration)
        guard let data = FileManager.default.contents(atPath: path), data.count <= 4 << 20,
              var stored = try? JSONDecoder().decode(StoredAttachments.self, from: data) else { return nil }
        var slots = Set<Int>()
        stored.attachments = stored.attachments.filter { record in
            // Mark 0 is every unmarked connection of the host's: never one of ours.
            record.occupancy != 0 && (1...maxWorkspaces).contains(record.slot) && slots.insert(record.slot).inserted
                && (1...64).contains(record.workspace.utf8.count)
                && record.workspace.utf8.allSatisfy { $0 < 0x80 && ($0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || Character(Unicode.Scalar($0)).isLetter || Character(Unicode.Scalar($0)).isNumber) }
        }
        return stored
    }

    /// Removes the network of every attached workspace not in `workspaces` (the server's rows,
    /// after it reconciled): an adopted record can outlive its workspace.
    public func detachAll(except workspaces: Set<String>) async {
        for id in attached.keys.sorted() where !workspaces.contains(id) {
            logger.notice("network of a workspace that is gone removed", metadata: ["workspace.id": "\(id)"])
            await detach(workspace: id)
        }
    }

    /// A stable text of an effective policy and of what the operator lets every workspace reach or
    /// not (private ranges named, the host's addresses): a `Hashable` hash is seeded per process.
    func policyFingerprint(_ policy: EffectivePolicy) -> String {
        func level(_ l: LevelPolicy) -> String {
            "\(l.mode?.rawValue ?? "-"):" + (l.rules.map { $0.map(\.description).sorted().joined(separator: ",") } ?? "-")
        }
        return [level(policy.server), level(policy.tenant), level(policy.workspace), "\(policy.openAllowed)",
                rules.allowedPrivate.map(\.description).sorted().joined(separator: ","),
                rules.hostAddresses.map(\.description).sorted().joined(separator: ",")].joined(separator: "|")
    }

    /// What an earlier run with networking on left, when this one runs with it off: its table (whose
    /// policies would otherwise go on being enforced, open ones too, with nothing to change them),
    /// namespaces and veths, and the connections it tracked.
    public static func removeEarlierRun(_ configuration: NetworkConfiguration, logger: Logger) async {
        // Only this data directory's own record says there is anything to remove: another server
        // on the host (there should be none: the prefix is fixed) has a table of that name, never a
        // record here.
        guard let stored = loadAttachments(configuration) else { return }
        // The veths go while the table still filters them: a running sandbox behind one is never
        // unfiltered, even for the moment between the two.
        for record in stored.attachments {
            let names = names(record, prefix: configuration.prefix)
            _ = try? await HostNet.ip(["netns", "del", names.namespace])
            _ = try? await HostNet.ip(["link", "del", names.hostInterface])
        }
        if !(await HostNet.deleteTable(configuration.table)) {
            logger.error("the earlier run's network table could not be removed", metadata: ["network.table": "\(configuration.table)"])
        }
        for record in stored.attachments {
            _ = await cutAll(marked: record.occupancy, workspace: record.workspace, logger: logger)
        }
        try? FileManager.default.removeItem(atPath: attachmentFile(configuration))
        logger.notice("workspace networks of an earlier run removed (networking is off)",
                      metadata: ["network.workspaces": "\(stored.attachments.count)"])
    }

    /// The host names of a record's namespace and veth.
    static func names(_ record: AttachmentRecord, prefix: String) -> (namespace: String, hostInterface: String) {
        (prefix + "-" + record.workspace, prefix + String(record.slot, radix: 36))
    }

    /// The records whose namespace and veth both still exist, when the range is the same.
    static func adoptable(_ stored: StoredAttachments?, network: CIDR, prefix: String) -> [AttachmentRecord] {
        guard let stored, stored.network == network.description else { return [] }
        return stored.attachments.filter { record in
            let names = names(record, prefix: prefix)
            return FileManager.default.fileExists(atPath: "/run/netns/" + names.namespace)
                && FileManager.default.fileExists(atPath: "/sys/class/net/" + names.hostInterface)
        }
    }

    /// Takes over the adoptable networks (their filter is loaded again into the new table, their
    /// resolver bound again) and cuts the connections of every other recorded one.
    func adopt(_ stored: StoredAttachments?, adoptable: [AttachmentRecord]) async {
        let adoptedIDs = Set(adoptable.map(\.workspace))
        for record in stored?.attachments ?? [] where !adoptedIDs.contains(record.workspace) {
            _ = await cutConnections(marked: record.occupancy, workspace: record.workspace, judge: nil)
        }
        for record in adoptable {
            let names = Self.names(record, prefix: configuration.prefix)
            guard let index = freeSlots.firstIndex(of: record.slot) else { continue }
            freeSlots.remove(at: index)
            let base = network.base.adding(UInt32(record.slot) * 4)
            let gateway = base.adding(1), guest = base.adding(2)
            do {
                tenants[record.workspace] = record.tenant
                // Under the policy it had, its connections stay; under another (the operator's rules
                // changed across the restart), those the new one does not allow are cut. No name
                // was resolved by this run yet, so only CIDR grants keep a connection then.
                let unchanged = record.policy == policyFingerprint(policy(for: record.workspace))
                try await activate(record.workspace, slot: record.slot, occupancy: record.occupancy, device: record.device, cutting: !unchanged)
                logger.notice("workspace network adopted", metadata: ["workspace.id": "\(record.workspace)", "network.address": "\(guest)"])
            } catch {
                logger.warning("workspace network could not be adopted", metadata: ["workspace.id": "\(record.workspace)", "error": "\(error)"])
                await remove(id: record.workspace, slot: record.slot, hostInterface: names.hostInterface, namespace: names.namespace,
                             gateway: gateway, guest: guest, occupancy: record.occupancy)
            }
        }
        saveAttachments()
    }
}
