import Foundation
@testable import HearthStore
import Testing

struct KillPoint: Error {}

@Suite("Crashes and fencing")
struct CrashAndFencingTests {
    let kek = KeyEncryptionKey.generate()

    /// A crash after each protocol step: the store then holds the last published generation, whole.
    @Test("a crash after every commit step leaves the last published generation intact",
          arguments: StoreKind.allCases, CommitStep.allCases)
    func crashAtEveryStep(kind: StoreKind, step: CommitStep) async throws {
        let scratch = try Scratch()
        let store = try await kind.make(scratch)
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 11, files: 30)
        let clock = ManualClock()
        let volume = try await openVolume(store, kek: kek)
        try await commitOnce(volume, source)
        let first = try TreeFixture.snapshot(source)

        try TreeFixture.make(at: source.appendingPathComponent("more"), seed: 12, files: 30)
        let second = try TreeFixture.snapshot(source)
        let crashing = VolumeWriter(volume: volume, policy: LeasePolicy(ttl: 30), identity: "crashing", clock: clock)
        try await crashing.acquire()
        await #expect(throws: KillPoint.self) {
            try await crashing.commit(directory: source, options: CommitOptions(onStep: { if $0 == step { throw KillPoint() } }))
        }

        // A new process after the crash: reads see exactly one of the two states.
        let reader = try await Volume.open(store: store, name: "vol", kek: kek)
        let restored = scratch.path("after-crash")
        let result = try await reader.restore(generation: nil, to: restored)
        let published = step == .generationPublished
        #expect(result.generation == (published ? 3 : 1) || result.generation == (published ? 2 : 1))
        #expect(try TreeFixture.snapshot(restored) == (published ? second : first))
        #expect(try await reader.verify().isHealthy)

        // The crashed writer never released: the next one waits out the lease, fences it, and commits.
        let next = VolumeWriter(volume: reader, policy: LeasePolicy(ttl: 30), identity: "next", clock: clock)
        let held = await #expect(throws: StoreError.self) { try await next.acquire() }
        #expect(held?.code == .leaseHeld)
        clock.advance(31)
        try await next.acquire()
        let committed = try await next.commit(directory: source)
        _ = try await reader.restore(generation: committed.generation, to: scratch.path("final"))
        #expect(try TreeFixture.snapshot(scratch.path("final")) == second)
    }

    /// Writer A stalls past its lease; B takes over and commits; A wakes up and must not write.
    @Test("a stale writer is refused and stops; the new writer's history is intact", arguments: StoreKind.allCases)
    func staleWriter(kind: StoreKind) async throws {
        let scratch = try Scratch()
        let store = try await kind.make(scratch)
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 21, files: 10)
        let clock = ManualClock()
        let volumeA = try await openVolume(store, kek: kek)
        let a = VolumeWriter(volume: volumeA, policy: LeasePolicy(ttl: 10, safetyMargin: 0), identity: "A", clock: clock)
        try await a.acquire()
        _ = try await a.commit(directory: source)

        clock.advance(11)  // A is frozen past its TTL.
        let volumeB = try await Volume.open(store: store, name: "vol", kek: kek)
        let b = VolumeWriter(volume: volumeB, policy: LeasePolicy(ttl: 10, safetyMargin: 0), identity: "B", clock: clock)
        try await b.acquire()
        try "from B".write(to: source.appendingPathComponent("b.txt"), atomically: false, encoding: .utf8)
        let bCommit = try await b.commit(directory: source)
        let historyBefore = try await volumeB.generationNumbers()

        // A resumes: its write is refused.
        let refused = await #expect(throws: StoreError.self) { try await a.commit(directory: source) }
        #expect(refused?.code == .fenced)
        #expect(await a.isFenced)
        await #expect(throws: StoreError.self) { try await a.renew() }
        #expect(try await volumeB.generationNumbers() == historyBefore)
        #expect(try await volumeB.head()?.generation == bCommit.generation)
        #expect(try await volumeB.head()?.epoch == (await b.epoch))
    }

    /// The data-path fence alone: A believes its lease is valid (its clock says so), but B has taken
    /// over and written a fence generation; A's publish collides with a newer epoch and A stops.
    @Test("the epoch check on publish stops a writer whose clock lies", arguments: StoreKind.allCases)
    func fenceWithoutClock(kind: StoreKind) async throws {
        let scratch = try Scratch()
        let store = try await kind.make(scratch)
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 31, files: 10)
        let clockA = ManualClock(), clockB = ManualClock()
        let a = VolumeWriter(volume: try await openVolume(store, kek: kek), policy: LeasePolicy(ttl: 10, safetyMargin: 0), identity: "A", clock: clockA)
        try await a.acquire()
        _ = try await a.commit(directory: source, options: CommitOptions(onStep: { _ in }))
        clockB.advance(60)
        let b = VolumeWriter(volume: try await Volume.open(store: store, name: "vol", kek: kek), policy: LeasePolicy(ttl: 10), identity: "B", clock: clockB)
        try await b.acquire()
        let fenceHead = try await b.volume.head()
        #expect(fenceHead?.reason == .fence)
        // A skips renewal by committing through a path that only publishes: a rollback.
        let refused = await #expect(throws: StoreError.self) { try await a.rollback(to: 1) }
        #expect(refused?.code == .fenced)
        #expect(try await b.volume.head()?.generation == fenceHead?.generation)
    }

    @Test("a planned handoff loses nothing and needs no fence")
    func handoff() async throws {
        let scratch = try Scratch()
        let store = try LocalObjectStore(root: scratch.path("store"))
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 41, files: 10)
        let a = VolumeWriter(volume: try await openVolume(store, kek: kek), identity: "A")
        try await a.acquire()
        let committed = try await a.commit(directory: source)
        try await a.release()
        let b = VolumeWriter(volume: try await Volume.open(store: store, name: "vol", kek: kek), identity: "B")
        try await b.acquire()
        #expect(try await b.volume.head()?.generation == committed.generation)
        #expect(try await b.volume.head()?.reason == .commit)
        #expect((await b.epoch ?? 0) > 1)
    }
}
