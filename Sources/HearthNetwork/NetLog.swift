public import Foundation

/// One decision about a workspace's traffic.
public struct NetLogEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case dns, connection }
    public var time: Date
    public var kind: Kind
    public var allowed: Bool
    /// A name (dns) or `address proto/port` (connection).
    public var destination: String
    /// The rule that allowed it, with its level, or why it was refused.
    public var rule: String
}

/// The last `capacity` decisions of one workspace, oldest dropped, with running counts.
struct NetLog: Sendable {
    static let capacity = 256
    private(set) var entries: [NetLogEntry] = []
    private var next = 0
    private(set) var deniedNames = 0
    private(set) var allowedNames = 0

    mutating func record(_ entry: NetLogEntry) {
        if entry.kind == .dns {
            if entry.allowed { allowedNames &+= 1 } else { deniedNames &+= 1 }
        }
        if entries.count < Self.capacity {
            entries.append(entry)
        } else {
            entries[next] = entry
            next = (next + 1) % Self.capacity
        }
    }

    /// Oldest first.
    var ordered: [NetLogEntry] { Array(entries[next...] + entries[..<next]) }
}

/// What `GET /v1/workspaces/{ws}/netlog` shows.
public struct NetLogSnapshot: Sendable {
    public var entries: [NetLogEntry]
    public var deniedNames: Int
    public var allowedNames: Int
    /// Packets the host side dropped for this workspace (nft counter).
    public var deniedPackets: Int
}
