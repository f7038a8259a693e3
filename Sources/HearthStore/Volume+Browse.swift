/// Reading a generation without restoring it (issue 16's time travel): list a directory, read a
/// file. Paths are `/`-separated names inside the volume's tree; nothing here touches a local file.
extension Volume {
    /// One entry of a directory at some generation.
    public struct BrowsedEntry: Sendable, Equatable {
        public var name: String
        public var kind: Tree.Kind
        public var mode: UInt32
        public var size: UInt64
        public var mtimeNanoseconds: Int64
        public var symlinkTarget: String?
    }

    /// The entries of directory `path` at generation `number` (nil: the head), at most `limit`,
    /// and whether there were more.
    public func list(generation number: UInt64?, path: String, limit: Int, byteLimit: Int = 4 << 20) async throws -> (entries: [BrowsedEntry], truncated: Bool) {
        let index = try await loadIndex(excludingCondemned: false)
        let generation = try await resolve(number)
        let tree = try await directory(try Self.components(path), path: path, in: generation, index: index)
        // Bounded by count and by the bytes of names and link targets: a guest's 4 KiB link targets
        // would otherwise make one answer hundreds of megabytes.
        var entries: [BrowsedEntry] = [], bytes = 0
        for entry in tree.entries {
            bytes += entry.name.count + entry.symlinkTarget.count
            if entries.count >= max(0, limit) || bytes > byteLimit { break }
            entries.append(BrowsedEntry(name: entry.displayName, kind: entry.kind, mode: entry.mode, size: entry.size,
                                        mtimeNanoseconds: entry.mtimeNanoseconds,
                                        symlinkTarget: entry.kind == .symlink ? String(decoding: entry.symlinkTarget, as: UTF8.self) : nil))
        }
        return (entries, tree.entries.count > entries.count)
    }

    /// The contents of regular file `path` at generation `number` (nil: the head). A file larger
    /// than `limit` bytes is refused before any of it is read.
    public func readFile(generation number: UInt64?, path: String, limit: Int) async throws -> [UInt8] {
        let index = try await loadIndex(excludingCondemned: false)
        let generation = try await resolve(number)
        let names = try Self.components(path)
        guard let last = names.last else { throw StoreError(.invalidArgument, "name a file") }
        let tree = try await directory(names.dropLast(), path: path, in: generation, index: index)
        guard let entry = tree.entries.first(where: { $0.name == Array(last.utf8) }) else {
            throw StoreError(.notFound, "\(path) is not in generation \(generation.generation)")
        }
        guard entry.kind == .file || entry.kind == .sqlite else {
            throw StoreError(.invalidArgument, "\(path) is not a regular file in generation \(generation.generation)")
        }
        // Sizes come from the index (raw lengths), never from the tree's claim alone.
        var total = 0
        for chunk in entry.chunks {
            guard let location = index.location(of: chunk) else { throw StoreError(.damaged, "\(path): chunk \(chunk) is in no index") }
            let (sum, overflow) = total.addingReportingOverflow(location.rawLength)
            guard !overflow, sum <= limit else { throw StoreError(.invalidArgument, "\(path) is larger than \(limit) bytes") }
            total = sum
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        for chunk in entry.chunks { bytes += try await readBlob(chunk, index: index) }
        return bytes
    }

    /// The directory reached by `names` from the generation's root.
    private func directory(_ names: some Sequence<String>, path: String, in generation: Generation, index: BlobIndex) async throws -> Tree {
        var tree = try await tree(generation.root, index: index)
        for name in names {
            guard let entry = tree.entries.first(where: { $0.name == Array(name.utf8) }) else {
                throw StoreError(.notFound, "\(path) is not in generation \(generation.generation)")
            }
            guard entry.kind == .directory, let subtree = entry.subtree else {
                throw StoreError(.invalidArgument, "\(path) is not a directory in generation \(generation.generation)")
            }
            tree = try await self.tree(subtree, index: index)
        }
        return tree
    }

    /// A relative path's names; `.`, `..` and empty names are refused, not resolved.
    static func components(_ path: String) throws -> [String] {
        let names = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard path.utf8.count <= 4096, names.allSatisfy({ $0 != "." && $0 != ".." && Tree.isValidName(Array($0.utf8)) }) else {
            throw StoreError(.invalidArgument, "a path inside the workspace is names separated by /, without . or ..")
        }
        return names
    }
}
