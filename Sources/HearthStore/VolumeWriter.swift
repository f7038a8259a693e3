import Foundation

/// The one writer of a volume. It holds the lease, stamps its epoch into everything it publishes and
/// stops for good (fail-stop) the moment it learns a newer epoch exists.
///
/// States: idle → holding → (released | fenced). `fenced` is terminal.
public actor VolumeWriter {
    enum State {
        case idle
        case holding(lease: Lease, etag: String, renewedAt: Date)
        case released
        case fenced(String)
    }

    public let volume: Volume
    public let policy: LeasePolicy
    public let identity: String
    let clock: any LeaseClock
    private(set) var state: State = .idle
    var index: BlobIndex?
    /// The newest generation this writer knows of. It publishes into the slot after it, so a writer
    /// that slept through a takeover aims at the slot the new writer's fence already holds.
    private var knownHead: UInt64 = 0
    private var lastPublished: Generation?

    public init(volume: Volume, policy: LeasePolicy = LeasePolicy(), identity: String = defaultWriterIdentity(), clock: any LeaseClock = WallClock()) {
        self.volume = volume
        self.policy = policy
        self.identity = identity
        self.clock = clock
    }

    public var epoch: UInt64? {
        if case .holding(let lease, _, _) = state { return lease.epoch }
        return nil
    }

    public var isFenced: Bool {
        if case .fenced = state { return true }
        return false
    }

    /// Takes the lease: creates it, takes over an expired or released one with a higher epoch, or
    /// fails with `.leaseHeld` naming the live holder. After a takeover from a writer that did not
    /// release, writes a fence generation so that writer's next publish collides and stops it.
    public func acquire() async throws {
        try checkNotFenced()
        let key = StoreLayout.lease(volume.name)
        let now = clock.now()
        var previous: Lease?
        let condition: WriteCondition
        do {
            let object = try await volume.store.get(key)
            let current = try Lease.decode(object.bytes)
            if !current.released, current.expiresAt > now, current.owner != identity {
                throw StoreError(.leaseHeld, "volume \(volume.name) is being written by \(current.owner) until \(current.expiresAt) (epoch \(current.epoch))")
            }
            previous = current
            condition = .ifMatch(object.etag)
        } catch let error as StoreError where error.code == .notFound {
            condition = .ifAbsent
        }
        // A rolled-back listing is refused: publishing into a deleted slot would bury the evidence.
        let numbers = try await volume.checkedGenerationNumbers()
        var headEpoch: UInt64 = 0
        if let last = numbers.last { headEpoch = try await volume.generation(last).epoch }
        // The lease object is not sealed: its epoch is whatever the bucket says, so it must not trap.
        let (epoch, overflow) = max(previous?.epoch ?? 0, headEpoch).addingReportingOverflow(1)
        guard !overflow else { throw StoreError(.damaged, "the lease of volume \(volume.name) has an impossible epoch") }
        let lease = Lease(epoch: epoch, owner: identity, expiresAt: now.addingTimeInterval(policy.ttl), released: false)
        let etag: String
        do {
            etag = try await volume.store.put(key, lease.encoded(), condition: condition)
        } catch let error as StoreError where error.code == .conflict {
            throw StoreError(.leaseHeld, "another writer took the lease of volume \(volume.name) at the same moment")
        }
        state = .holding(lease: lease, etag: etag, renewedAt: now)
        knownHead = numbers.last ?? 0
        if let previous, !previous.released {
            try await writeFence()
        }
    }

    /// Extends the lease by compare-and-swap. Losing the swap means someone else took it: fenced.
    public func renew() async throws {
        guard case .holding(var lease, let etag, _) = state else { try checkNotFenced(); throw StoreError(.fenced, "not holding the lease of \(volume.name)") }
        try checkClock()
        let now = clock.now()
        lease.expiresAt = now.addingTimeInterval(policy.ttl)
        do {
            let newEtag = try await volume.store.put(StoreLayout.lease(volume.name), lease.encoded(), condition: .ifMatch(etag))
            state = .holding(lease: lease, etag: newEtag, renewedAt: now)
        } catch let error as StoreError where error.code == .conflict {
            throw fence("the lease of \(volume.name) was taken over by a newer writer")
        }
    }

    /// Renews if a third of the TTL has passed since the last renewal.
    func renewIfDue() async throws -> Bool {
        guard case .holding(_, _, let renewedAt) = state else { return false }
        guard clock.now().timeIntervalSince(renewedAt) >= policy.renewInterval else { return false }
        try await renew()
        return true
    }

    /// A clean handoff: nothing is in flight, so the next holder needs no fence.
    public func release() async throws {
        guard case .holding(var lease, let etag, _) = state else { return }
        lease.released = true
        lease.expiresAt = clock.now()
        do {
            _ = try await volume.store.put(StoreLayout.lease(volume.name), lease.encoded(), condition: .ifMatch(etag))
            state = .released
        } catch let error as StoreError where error.code == .conflict {
            throw fence("the lease of \(volume.name) was taken over before it was released")
        }
    }

    func checkNotFenced() throws {
        if case .fenced(let reason) = state { throw StoreError(.fenced, "this writer was fenced and stopped: \(reason)") }
    }

    /// Self-fencing by the clock: a writer that cannot prove its lease is still safely alive stops,
    /// before another writer could take over (a frozen process wakes up here).
    func checkClock() throws {
        try checkNotFenced()
        guard case .holding(let lease, _, _) = state else { throw StoreError(.fenced, "not holding the lease of \(volume.name)") }
        if clock.now().addingTimeInterval(policy.safetyMargin) >= lease.expiresAt {
            throw fence("the lease of \(volume.name) (epoch \(lease.epoch)) expired before it could be renewed")
        }
    }

    func fence(_ reason: String) -> StoreError {
        state = .fenced(reason)
        return StoreError(.fenced, "this writer was fenced and stopped: \(reason)")
    }

    /// Publishes into the next slot with create-only-if-absent. A slot taken by a newer epoch fences
    /// this writer; a slot taken by an older epoch (a stale writer that got in first) is history, and
    /// the generation moves to the next slot.
    func publish(_ make: (UInt64, UInt64?, UInt64) -> Generation) async throws -> Generation {
        guard case .holding(let lease, _, _) = state else { try checkNotFenced(); throw StoreError(.fenced, "not holding the lease") }
        var number = knownHead + 1
        while true {
            try checkClock()
            let generation = make(number, number > 1 ? number - 1 : nil, lease.epoch)
            do {
                try await volume.store.put(StoreLayout.generation(volume.name, number), try generation.sealed(with: volume.key), condition: .ifAbsent)
                knownHead = number
                lastPublished = generation
                // Best effort: a lagging anchor only narrows what a rollback check can see, and the
                // generation is already published, so this commit must not fail for it.
                try? await volume.raiseAnchor(to: number, epoch: lease.epoch)
                return generation
            } catch let error as StoreError where error.code == .conflict {
                let winner = try await volume.generation(number)
                if winner.epoch > lease.epoch {
                    throw fence("generation \(number) was published by epoch \(winner.epoch), newer than this writer's \(lease.epoch)")
                }
                number += 1
            }
        }
    }

    /// The newest generation this writer knows of, without a round trip when it published it.
    func headGeneration() async throws -> Generation? {
        if let lastPublished, lastPublished.generation == knownHead { return lastPublished }
        guard knownHead > 0 else { return nil }
        lastPublished = try await volume.generation(knownHead)
        return lastPublished
    }

    private func writeFence() async throws {
        guard let head = try await volume.head() else { return }
        _ = try await publish { number, parent, epoch in
            Generation(volume: volume.name, generation: number, parent: parent, epoch: epoch, root: head.root, createdAt: clock.now(),
                       writer: identity, reason: .fence, files: head.files, bytes: head.bytes, bytesNew: 0, databases: head.databases,
                       source: nil, pruned: nil)
        }
    }

    /// Makes generation `number`'s tree the head again, as a new generation: history is never rewritten.
    public func rollback(to number: UInt64) async throws -> Generation {
        let target = try await volume.generation(number)
        guard target.pruned != true else { throw StoreError(.notFound, "generation \(number) of \(volume.name) was removed by retention") }
        return try await publish { next, parent, epoch in
            Generation(volume: volume.name, generation: next, parent: parent, epoch: epoch, root: target.root, createdAt: clock.now(),
                       writer: identity, reason: .rollback, files: target.files, bytes: target.bytes, bytesNew: 0,
                       databases: target.databases, source: "\(volume.name)@\(number)", pruned: nil)
        }
    }
}
