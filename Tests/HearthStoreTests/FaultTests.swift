import Foundation
@testable import HearthStore
import HearthStoreS3
import Testing

@Suite("Faults: a failing S3, a frozen writer, a full disk, an unreadable file")
struct FaultTests {
    let kek = KeyEncryptionKey.generate()

    @Test("commits through a proxy that drops connections and answers 503 retry or fail cleanly; nothing half-published is visible")
    func s3Faults() async throws {
        let scratch = try Scratch()
        let proxy = try await FaultProxy.start(upstream: try await SeaweedFS.shared.endpointURL(), seed: 11)
        let prefix = UUID().uuidString
        let volume = try await openVolume(try await SeaweedFS.shared.store(prefix: prefix, endpoint: proxy.endpoint), kek: kek)
        let writer = VolumeWriter(volume: volume)
        try await writer.acquire()
        proxy.set(.init(faultRate: 0.3))

        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 21, files: 60)
        var states: [[String: String]] = []
        var committed: [UInt64: Int] = [:]  // generation → the state it was committed from
        for round in 0..<8 {
            if round > 0 { try TreeFixture.make(at: source.appendingPathComponent("round\(round)"), seed: 100 + UInt64(round), files: 15) }
            states.append(try TreeFixture.snapshot(source))
            do {
                committed[try await writer.commit(directory: source).generation] = round
            } catch let error as StoreError {
                // Failing is allowed when a request failed every retry; a lost answer must never
                // look like a takeover.
                #expect(error.code == .unavailable, "a commit under faults failed with \(error.code.rawValue): \(error)")
            }
        }
        #expect(!committed.isEmpty, "no commit got through a store that fails three requests in ten")
        for fault in FaultProxy.Fault.allCases { #expect(proxy.count(fault) > 0, "the proxy never injected \(fault)") }

        // The store goes down: the commit fails with a clear error and publishes nothing.
        proxy.set(.init(down: true))
        let direct = try await openVolume(try await SeaweedFS.shared.store(prefix: prefix), kek: kek)
        let headBefore = try await direct.generationNumbers().last
        try TreeFixture.make(at: source.appendingPathComponent("while-down"), seed: 999, files: 5)
        do {
            _ = try await writer.commit(directory: source)
            Issue.record("a commit succeeded against a store that answers only 503")
        } catch let error as StoreError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("kept failing"), "\(error.message)")
        }
        #expect(try await direct.generationNumbers().last == headBefore)
        await proxy.close()

        // Read back without the proxy: contiguous generations, each exactly one of the trees that
        // was committed, in order, and nothing they name is missing.
        let numbers = try await direct.generationNumbers()
        #expect(numbers == Array(1...UInt64(numbers.count)))
        #expect(numbers.last! >= committed.keys.max()!)
        var latest = 0
        for number in numbers {
            let out = scratch.path("restore-\(number)")
            _ = try await direct.restore(generation: number, to: out)
            let restored = try TreeFixture.snapshot(out)
            if let round = committed[number] { #expect(restored == states[round], "generation \(number) differs from what its commit read") }
            let matches = states.indices.filter { states[$0] == restored }
            #expect(!matches.isEmpty, "generation \(number) is none of the committed trees")
            if let round = matches.last {
                #expect(round >= latest, "generation \(number) went back to an older tree")
                latest = round
            }
        }
        let report = try await direct.verify()
        #expect(report.isHealthy, "\(report.damage)")
    }

    @Test("a writer frozen with SIGSTOP past its lease is fenced when it resumes; the new writer's history is intact", arguments: StoreKind.allCases)
    func frozenWriter(kind: StoreKind) async throws {
        let scratch = try Scratch()
        let store = try await kind.make(scratch)
        let cli = try HearthCLI(scratch: scratch, kek: kek)
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 5, files: 20)
        let volume = try await openVolume(store, kek: kek)

        // Writer A: a separate `hearth volume watch` process with a 3 s lease.
        let a = try cli.start(["volume", "watch", source.path, "--store", try StoreURLs.url(for: store), "--volume", "vol",
                               "--interval", "0.5", "--lease-seconds", "3", "--socket", scratch.path("a.sock").path], directory: scratch.url)
        let aPid = try a.pid()
        defer { if a.isRunning { kill(aPid, SIGKILL) } }
        try await waitFor("writer A's first generation") { try await !volume.generationNumbers().isEmpty }
        kill(aPid, SIGSTOP)
        let frozenEpoch = try await volume.generation(try await volume.generationNumbers().last!).epoch
        // The lease runs out while A is frozen (a real process, so real time passes; no fixed sleep).
        try await waitFor("writer A's lease to expire") {
            let lease = try Lease.decode(try await store.get(StoreLayout.lease("vol")).bytes)
            return lease.expiresAt < Date()
        }

        // Writer B takes over (fencing A), changes the tree and commits.
        let b = VolumeWriter(volume: volume)
        try await b.acquire()
        let bEpoch = try #require(await b.epoch)
        #expect(bEpoch > frozenEpoch)
        try Data("written by B\n".utf8).write(to: source.appendingPathComponent("b.txt"))
        let bFirst = try await b.commit(directory: source).generation

        // A resumes: its next write is refused and it stops with a clear error.
        try Data("written while A was frozen\n".utf8).write(to: source.appendingPathComponent("late.txt"))
        kill(aPid, SIGCONT)
        try await waitFor("writer A to stop") { !a.isRunning }
        #expect(a.status != 0)
        #expect(a.stderr().contains("fenced"), "A's error does not say it was fenced: \(a.stderr())")

        // B carries on; nothing after B's takeover came from A.
        let bSecond = try await b.commit(directory: source).generation
        try await b.release()
        for number in try await volume.generationNumbers() where number >= bFirst {
            #expect(try await volume.generation(number).epoch == bEpoch, "generation \(number) was written by a stale writer")
        }
        let out = scratch.path("restored")
        _ = try await volume.restore(generation: bSecond, to: out)
        #expect(try TreeFixture.snapshot(out) == TreeFixture.snapshot(source))
        let report = try await volume.verify()
        #expect(report.isHealthy, "\(report.damage)")
    }

    @Test("a full disk gets a clear error: a commit into a full store publishes nothing, a restore onto a full disk says so")
    func fullDisk() async throws {
        let scratch = try Scratch()
        let small = try TmpfsMount(at: scratch.path("small"), bytes: 2 << 20)
        defer { small.unmount() }
        let volume = try await openVolume(try LocalObjectStore(root: small.url.appendingPathComponent("store")), kek: kek)
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 3, files: 10)
        var rng = SplitMix(seed: 8)
        func noise(_ bytes: Int) -> Data { Data((0..<bytes / 8).flatMap { _ in withUnsafeBytes(of: rng.next()) { Array($0) } }) }
        try noise(1 << 20).write(to: source.appendingPathComponent("medium.bin"))
        let fits = try TreeFixture.snapshot(source)
        let first = try await commitOnce(volume, source)

        // 4 MiB of incompressible data does not fit in what is left of 2 MiB.
        try noise(4 << 20).write(to: source.appendingPathComponent("big.bin"))
        do {
            try await commitOnce(volume, source)
            Issue.record("a commit bigger than the disk succeeded")
        } catch let error as StoreError {
            #expect(error.code == .noSpace, "\(error)")
            #expect(error.message.contains("full"), "\(error.message)")
        }
        #expect(try await volume.generationNumbers().last == first.generation)
        let out = scratch.path("restored")
        _ = try await volume.restore(generation: first.generation, to: out)
        #expect(try TreeFixture.snapshot(out) == fits)

        // A restore onto a disk too small for it.
        let tiny = try TmpfsMount(at: scratch.path("tiny"), bytes: 256 << 10)
        defer { tiny.unmount() }
        await #expect { _ = try await volume.restore(generation: first.generation, to: tiny.url.appendingPathComponent("out")) } throws: { error in
            (error as? StoreError)?.code == .noSpace
        }
    }

    @Test("a file the committing user cannot read stops the commit with an error that names it; nothing is published")
    func unreadableFile() async throws {
        let scratch = try Scratch()
        let cli = try HearthCLI(scratch: scratch, kek: kek)
        let source = scratch.path("src")
        try TreeFixture.make(at: source, seed: 4, files: 10)
        // Root reads anything, so the commits run as `nobody`, who owns the store and the cache.
        for directory in ["store", "home"] { try FileManager.default.createDirectory(at: scratch.path(directory), withIntermediateDirectories: true) }
        for path in [scratch.path("store").path, scratch.path("home").path, cli.kekFile] { chown(path, 65534, 65534) }
        let commit = ["volume", "commit", source.path, "--store", "file://" + scratch.path("store").path, "--volume", "vol"]
        let first = try await cli.run(commit, asNobody: true, home: scratch.path("home").path, directory: scratch.url)
        #expect(first.status == 0, "\(first.stderr)")

        try Data("secret\n".utf8).write(to: source.appendingPathComponent("private.key"))
        chmod(source.appendingPathComponent("private.key").path, 0o000)
        let run = try await cli.run(commit, asNobody: true, home: scratch.path("home").path, directory: scratch.url)
        #expect(run.status != 0)
        #expect(run.stderr.contains("private.key"), "the error does not name the file: \(run.stderr)")
        #expect(run.stderr.lowercased().contains("permission denied"), "the error does not say why: \(run.stderr)")
        let volume = try await Volume.open(store: try LocalObjectStore(root: scratch.path("store")), name: "vol", kek: kek)
        #expect(try await volume.generationNumbers() == [1])
    }

    /// Polls `condition` every 50 ms for up to 60 s.
    func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw StoreError(.unavailable, "timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
