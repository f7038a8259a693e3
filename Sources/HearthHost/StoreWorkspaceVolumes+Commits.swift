import Foundation
public import HearthCore
import HearthStore
import Synchronization

/// Workspace commits (issue 16): the layer a runtime hands over is committed as a guest tree (no
/// link followed, databases kept as files), with the writer's lease taken for the commit and
/// released after it, as `hearth volume commit` does, so a server that dies leaves a lease that
/// simply expires.
extension StoreWorkspaceVolumes {
    /// Generations listed at most: each is one read from the store.
    static let generationsListed = 200
    /// Bytes of names, targets and paths in one answer.
    static let answerBytes = 4 << 20

    /// Entries and name bytes one workspace commit may list: about a gigabyte of host memory at most.
    static let entryLimit = 1_000_000
    static let nameByteLimit = 256 << 20
    /// A commit that runs longer stops (the walk and every read check it), so no workspace holds
    /// its lifecycle, or a slot of the interval's round, for longer.
    static let commitSeconds: TimeInterval = 600

    public func commit(workspace: String, tenant: String, layer: String, trigger: CommitTrigger, maxBytes: UInt64) async throws -> WorkspaceCommit {
        do {
            // Made here if missing (idempotent): a workspace whose volume could not be made at its
            // start or re-adoption (the store was down) gets one with its next commit. Commits and
            // deletes of a workspace never overlap (the protocol's contract), and a deleted one is
            // never committed, so this cannot bring a shredded volume back.
            let writer = try await writers.writer(for: workspace) { try await keys.createWorkspace(workspace, tenant: tenant) }
            try await writer.acquire()
            var options = CommitOptions(cacheDirectory: URL(fileURLWithPath: cacheDirectory + "/" + KeyHierarchy.volumeName(workspace: workspace)))
            options.guestTree = true
            options.skipIfUnchanged = true
            options.trigger = trigger.rawValue
            options.limits = CommitLimits(entries: Self.entryLimit, nameBytes: Self.nameByteLimit, bytes: maxBytes,
                                          deadline: Date().addingTimeInterval(Self.commitSeconds))
            let result: CommitResult
            do {
                result = try await writer.commit(directory: URL(fileURLWithPath: layer), options: options)
            } catch {
                try? await writer.release()
                throw error
            }
            try await writer.release()
            return WorkspaceCommit(generation: result.generation, published: result.published, filesRead: result.filesRead,
                                   bytesAdded: result.bytesNew, seconds: result.seconds)
        } catch {
            // A writer that failed (fenced, or the store refused) is made again next time.
            await writers.forget(workspace)
            throw Self.mapCommit(error)
        }
    }

    /// A commit's errors name host paths (the layer) and object keys: the client gets the limit it
    /// passed or a full store, and everything else only as a failure.
    static func mapCommit(_ error: any Error) -> HearthError {
        if let error = error as? HearthError { return error }
        guard let error = error as? StoreError else { return HearthError(.internal, "could not commit the workspace's state", detail: "\(error)") }
        switch error.code {
        case .limitExceeded: return HearthError(.quotaExceeded, "the workspace could not be committed: \(error.message)", detail: error.detail)
        case .noSpace: return HearthError(.noSpace, "the store is full: could not commit the workspace's state", detail: "\(error)")
        default: return HearthError(.internal, "could not commit the workspace's state", detail: "\(error)")
        }
    }

    public func generations(workspace: String, tenant: String) async throws -> [WorkspaceGeneration] {
        do {
            return try await reads.admit {
                let volume = try await keys.openWorkspace(workspace, tenant: tenant)
                var out: [WorkspaceGeneration] = []
                for number in try await volume.generationNumbers().suffix(Self.generationsListed) {
                    let generation = try await volume.generation(number)
                    if generation.pruned == true { continue }
                    out.append(WorkspaceGeneration(number: generation.generation, createdAt: generation.createdAt,
                                                   trigger: generation.trigger.flatMap(CommitTrigger.init(rawValue:)),
                                                   files: generation.files, bytes: generation.bytes, bytesAdded: generation.bytesNew))
                }
                return out
            }
        } catch {
            throw Self.map(error, "list the workspace's generations")
        }
    }
}

extension StoreWorkspaceVolumes {
    public func restore(workspace: String, tenant: String, generation: UInt64, into directory: String) async throws {
        let volume: Volume
        do {
            volume = try await keys.openWorkspace(workspace, tenant: tenant)
            guard try await volume.generationNumbers().contains(generation), try await volume.generation(generation).pruned != true else {
                throw HearthError(.notFound, "the workspace has no generation \(generation)")
            }
        } catch let error as HearthError {
            throw error
        } catch {
            throw Self.map(error, "read the workspace's history")
        }
        do {
            // A restore loads the volume's indexes and trees, as the history reads do, and writes
            // every byte for minutes perhaps: it takes one of its own two places in the server (a
            // full house is 429), so history reads are not held up behind it.
            _ = try await restores.admit { try await volume.restore(generation: generation, to: URL(fileURLWithPath: directory)) }
        } catch let error as HearthError {
            throw error
        } catch let error as StoreError where error.code == .noSpace {
            throw HearthError(.noSpace, "the workspace's disk is too small for generation \(generation)", detail: "\(error)")
        } catch {
            // Restore errors name host paths: the client gets a fixed message.
            throw HearthError(.internal, "could not restore generation \(generation)", detail: "\(error)")
        }
    }

    public func list(workspace: String, tenant: String, generation: UInt64, path: String, limit: Int) async throws -> GenerationListing {
        do {
            let (entries, truncated) = try await reads.admit {
                try await keys.openWorkspace(workspace, tenant: tenant).list(generation: generation, path: path, limit: limit, byteLimit: Self.answerBytes)
            }
            return GenerationListing(generation: generation, entries: entries.map { entry in
                GenerationEntry(name: entry.name, kind: Self.kind(entry.kind), mode: entry.mode, size: entry.size,
                                modifiedAt: Date(timeIntervalSince1970: Double(entry.mtimeNanoseconds) / 1e9), symlinkTarget: entry.symlinkTarget)
            }, truncated: truncated)
        } catch {
            throw Self.map(error, "read the generation")
        }
    }

    public func read(workspace: String, tenant: String, generation: UInt64, path: String, limit: Int) async throws -> [UInt8] {
        do {
            return try await reads.admit { try await keys.openWorkspace(workspace, tenant: tenant).readFile(generation: generation, path: path, limit: limit) }
        } catch {
            throw Self.map(error, "read the file at that generation")
        }
    }

    public func diff(workspace: String, tenant: String, from: UInt64, to: UInt64, limit: Int) async throws -> (changes: [GenerationChange], truncated: Bool) {
        do {
            let changes = try await reads.admit { try await keys.openWorkspace(workspace, tenant: tenant).diff(from, to, limit: limit) }
            var mapped: [GenerationChange] = [], bytes = 0
            for change in changes {
                bytes += change.path.utf8.count
                if mapped.count >= max(0, limit) || bytes > Self.answerBytes { break }
                mapped.append(GenerationChange(kind: change.kind == .added ? .added : change.kind == .removed ? .removed : .modified, path: change.path))
            }
            return (mapped, changes.count > mapped.count)
        } catch {
            throw Self.map(error, "compare the generations")
        }
    }

    static func kind(_ kind: Tree.Kind) -> GenerationEntry.Kind {
        switch kind {
        case .file, .sqlite: .file
        case .directory: .directory
        case .symlink: .symlink
        case .whiteout: .whiteout
        }
    }
}

/// Reads of generations running at once, server-wide: each loads the volume's indexes and whole
/// trees, so a caller within the request rate limit could still hold the server's memory. One past
/// the limit is refused (429), not queued.
final class GenerationReads: Sendable {
    static let limit = 4
    private let running = Mutex(0)
    private let limit: Int
    private let refusal: String

    /// `limit` at once; `refusal` is what the 429 says.
    init(limit: Int = GenerationReads.limit, refusal: String = "too many reads of workspace history are running; try again shortly") {
        self.limit = limit
        self.refusal = refusal
    }

    func admit<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let admitted = running.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else { throw HearthError(.rateLimited, refusal) }
        defer { running.withLock { $0 -= 1 } }
        return try await body()
    }
}

/// One `VolumeWriter` per workspace, so its index is loaded once, not at every commit. Commits and
/// deletes of one workspace are never concurrent: the caller serializes them (`WorkspaceVolumes`).
actor WorkspaceWriters {
    private var writers: [String: VolumeWriter] = [:]

    func writer(for workspace: String, open: () async throws -> Volume) async throws -> VolumeWriter {
        if let writer = writers[workspace] { return writer }
        let writer = VolumeWriter(volume: try await open())
        writers[workspace] = writer
        return writer
    }

    func forget(_ workspace: String) { writers[workspace] = nil }
}
