/// Which network denials reach the audit log. A workspace that hammers a refused destination must
/// not write an audit event per attempt (nor, as before, one a second for ever: 86,400 a day per
/// workspace): each workspace records, as they happen, the first denial of each destination in an
/// interval, up to `perWorkspace` destinations, and the repeats and the rest as one summary when
/// the interval ends; one tenant's workspaces together record at most `perTenant` as they happen
/// (so one tenant's busy workspaces cannot spend everyone's budget), and all workspaces together at
/// most `perServer` events an interval, with one server-wide summary of what was held back.
/// Pure: the caller passes the time, so tests drive it without waiting. Memory is bounded by the
/// workspaces with denials in the current interval (forgotten on detach).
public struct DenialAuditSampler: Sendable {
    /// One audit record: a denial as it happened, or a summary of `count` held back (with the last).
    public struct Record: Sendable, Equatable {
        public var workspace: String?
        public var entry: NetLogEntry?
        public var heldBack: Int
    }

    public let interval: Duration
    public let perWorkspace: Int
    public let perTenant: Int
    public let perServer: Int

    private struct Window {
        var destinations: Set<String> = []
        var heldBack = 0
        var last: NetLogEntry?
    }

    private var start: ContinuousClock.Instant?
    private var windows: [String: Window] = [:]
    private var serverRecorded = 0
    private var serverHeldBack = 0
    /// Records made as they happened this interval, per tenant (only tenants with denials).
    private var tenantRecorded: [String: Int] = [:]

    public init(interval: Duration = .seconds(60), perWorkspace: Int = 16, perTenant: Int = 100, perServer: Int = 300) {
        self.interval = interval
        self.perWorkspace = perWorkspace
        self.perTenant = perTenant
        self.perServer = perServer
    }

    /// A denial happened; returns what to record now (nil: counted for a later summary), after
    /// the summaries of an interval that has ended.
    public mutating func offer(_ workspace: String, tenant: String? = nil, _ entry: NetLogEntry, now: ContinuousClock.Instant) -> [Record] {
        var out = flush(now: now)
        var window = windows[workspace, default: Window()]
        window.last = entry
        let new = !window.destinations.contains(entry.destination)
        let tenantKey = tenant ?? ""
        if new && window.destinations.count < perWorkspace && serverRecorded < perServer
            && tenantRecorded[tenantKey, default: 0] < perTenant {
            window.destinations.insert(entry.destination)
            serverRecorded &+= 1
            tenantRecorded[tenantKey, default: 0] &+= 1
            out.append(Record(workspace: workspace, entry: entry, heldBack: 0))
        } else {
            window.heldBack &+= 1
        }
        windows[workspace] = window
        return out
    }

    /// Ends the interval if it is over: one summary per workspace that had denials held back, up to
    /// what the server may still record, and one server-wide summary of the rest.
    public mutating func flush(now: ContinuousClock.Instant) -> [Record] {
        guard let begun = start else {
            start = now
            return []
        }
        guard now - begun >= interval else { return [] }
        var out: [Record] = []
        var budget = perServer
        for (workspace, window) in windows.sorted(by: { $0.key < $1.key }) where window.heldBack > 0 {
            if budget > 0 {
                budget -= 1
                out.append(Record(workspace: workspace, entry: window.last, heldBack: window.heldBack))
            } else {
                serverHeldBack &+= window.heldBack
            }
        }
        if serverHeldBack > 0 { out.append(Record(workspace: nil, entry: nil, heldBack: serverHeldBack)) }
        start = now
        windows = [:]
        tenantRecorded = [:]
        serverRecorded = 0
        serverHeldBack = 0
        return out
    }

    public mutating func forget(_ workspace: String) { windows[workspace] = nil }
}
