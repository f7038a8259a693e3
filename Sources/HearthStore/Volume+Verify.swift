import Foundation

#if canImport(Glibc)
import Glibc
#endif

public struct VerifyReport: Codable, Sendable {
    public var generations: [UInt64]
    public var trees: Int
    public var chunks: Int
    public var packs: Int
    public var databases: Int
    /// One line per problem, naming the generation and the file, tree, pack or database.
    public var damage: [String]
    public var isHealthy: Bool { damage.isEmpty }
}

extension Volume {
    /// Checks generations (one, or every one that retention kept): each decodes and authenticates,
    /// numbering has no gaps, every tree and chunk is present and matches its hash, and every
    /// database reassembles to its recorded image and passes `integrity_check`.
    public func verify(generation only: UInt64? = nil) async throws -> VerifyReport {
        var report = VerifyReport(generations: [], trees: 0, chunks: 0, packs: 0, databases: 0, damage: [])
        let numbers = try await generationNumbers()
        do {
            if let anchored = try await anchor()?.anchor, (numbers.last ?? 0) < anchored.generation {
                report.damage.append(Self.rolledBack(name, listed: numbers.last ?? 0, anchored: anchored.generation).message)
            }
        } catch let error as StoreError {
            report.damage.append(error.message)
        }
        // Gaps between listed numbers, named one by one up to a bound: the listing is not
        // authenticated, and a planted key numbered 2^64-1 must not make verify count to it.
        var named = 0
        for (previous, next) in zip(numbers, numbers.dropFirst()) where next - previous > 1 {
            let gap = next - previous - 1
            if named < 100, gap <= UInt64(100 - named) {
                for missing in (previous + 1)..<next { report.damage.append("generation \(missing) is missing") }
                named += Int(gap)
            } else {
                report.damage.append("generations \(previous + 1) to \(next - 1) are missing")
            }
        }
        let index = try await loadIndex(excludingCondemned: false)
        var chunkUsers: [BlobID: String] = [:]
        var databases: [(UInt64, Generation.Database, [BlobID])] = []
        var seenTrees: Set<BlobID> = []
        var rootDatabases: [BlobID: [String: [BlobID]]] = [:]
        let selected = only.map { [$0] } ?? numbers
        if let only, !numbers.contains(only) { throw StoreError(.notFound, "volume \(name) has no generation \(only)") }
        for number in selected {
            let generation: Generation
            do { generation = try await self.generation(number) } catch let error as StoreError {
                report.damage.append("generation \(number): \(error.message)")
                continue
            }
            if generation.pruned == true { continue }
            report.generations.append(number)
            // WAL generations share their parent's tree: walk each root once.
            if rootDatabases[generation.root] == nil {
                var databaseChunks: [String: [BlobID]] = [:]
                do {
                    try await walk(generation.root, index: index, visitTree: { _, id in seenTrees.insert(id) }) { path, entry in
                        let display = String(decoding: path, as: UTF8.self)
                        for chunk in entry.chunks where chunkUsers[chunk] == nil { chunkUsers[chunk] = "generation \(number): \(display)" }
                        if entry.kind == .sqlite { databaseChunks[display] = entry.chunks }
                    }
                } catch let error as StoreError {
                    report.damage.append("generation \(number): \(error.message)")
                    continue
                }
                rootDatabases[generation.root] = databaseChunks
            }
            for database in generation.databases {
                guard let chunks = rootDatabases[generation.root]?[database.path] else {
                    report.damage.append("generation \(number): database \(database.path) is not in the tree")
                    continue
                }
                for blob in database.imageChunks(treeChunks: chunks) where chunkUsers[blob] == nil { chunkUsers[blob] = "generation \(number): database \(database.path)" }
                databases.append((number, database, chunks))
            }
        }
        report.trees = seenTrees.count
        report.chunks = chunkUsers.count

        var byPack: [String: [(BlobID, BlobLocation)]] = [:]
        for id in chunkUsers.keys {
            guard let location = index.location(of: id) else {
                report.damage.append("\(chunkUsers[id]!): chunk \(id) is in no index")
                continue
            }
            byPack[location.pack, default: []].append((id, location))
        }
        report.packs = byPack.count
        var badChunks: Set<BlobID> = []
        for (pack, blobs) in byPack.sorted(by: { $0.key < $1.key }) {
            let bytes: [UInt8]
            do {
                bytes = try await store.get(StoreLayout.pack(family, pack)).bytes
            } catch let error as StoreError where error.code == .notFound {
                let users = Set(blobs.map { chunkUsers[$0.0]! }).sorted()
                report.damage.append("pack \(pack.prefix(12)) is missing; it holds data of \(users.prefix(5).joined(separator: ", "))\(users.count > 5 ? " and \(users.count - 5) more" : "")")
                badChunks.formUnion(blobs.map(\.0))
                continue
            }
            for (id, location) in blobs {
                do {
                    guard location.offset + location.length <= bytes.count else { throw StoreError(.damaged, "pack is truncated") }
                    _ = try key.openBlob(Array(bytes[location.offset..<(location.offset + location.length)]), id: id, rawLength: location.rawLength)
                } catch let error as StoreError {
                    report.damage.append("\(chunkUsers[id]!): chunk \(id) in pack \(pack.prefix(12)): \(error.message)")
                    badChunks.insert(id)
                }
            }
        }

        // Only the newest generation of each database image is replayed in full: older ones replay
        // a prefix of the same WAL segments, so every segment is still read, re-hashed and checked
        // against SQLite's frame checksums once.
        var newestPerImage: [String: (UInt64, Generation.Database, [BlobID])] = [:]
        for item in databases { newestPerImage["\(item.1.path)|\(item.1.sha256)"] = item }
        let toReplay = only == nil ? newestPerImage.values.sorted { $0.0 < $1.0 } : databases
        for (number, database, treeChunks) in toReplay {
            let chunks = database.imageChunks(treeChunks: treeChunks)
            guard !chunks.contains(where: badChunks.contains) else { continue }
            report.databases += 1
            let temporary = SQLiteConnection.scratchPath("verify")
            defer { SQLiteConnection.removeScratch(temporary) }
            do {
                _ = FileManager.default.createFile(atPath: temporary, contents: nil)
                let handle = FileHandle(forWritingAtPath: temporary)!
                for chunk in chunks { try handle.write(contentsOf: try await readBlob(chunk, index: index)) }
                try handle.close()
                try await finishDatabase(temporary, database, image: chunks, index: index)
            } catch let error as StoreError {
                report.damage.append("generation \(number): \(error.message)")
            }
        }
        return report
    }
}
