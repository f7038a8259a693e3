extension Volume {
    /// Visits every entry under tree `root`, depth first, parents before children.
    /// `path` is the `/`-joined raw path relative to the root.
    func walk(_ root: BlobID, index: BlobIndex, visitTree: (([UInt8], BlobID) -> Void)? = nil,
              _ visit: ([UInt8], Tree.Entry) async throws -> Void) async throws {
        visitTree?([], root)
        try await walk(root, prefix: [], index: index, visitTree: visitTree, visit)
    }

    private func walk(_ id: BlobID, prefix: [UInt8], index: BlobIndex, visitTree: (([UInt8], BlobID) -> Void)?,
                      _ visit: ([UInt8], Tree.Entry) async throws -> Void) async throws {
        let tree: Tree
        do {
            tree = try await self.tree(id, index: index)
        } catch let error as StoreError {
            let place = prefix.isEmpty ? "the root directory" : "directory \(String(decoding: prefix, as: UTF8.self))"
            throw StoreError(error.code, "\(place): \(error.message)", detail: error.detail)
        }
        for entry in tree.entries {
            let path = prefix.isEmpty ? entry.name : prefix + [47] + entry.name
            try await visit(path, entry)
            if entry.kind == .directory, let subtree = entry.subtree {
                visitTree?(path, subtree)
                try await walk(subtree, prefix: path, index: index, visitTree: visitTree, visit)
            }
        }
    }

    /// The generation to read: `number`, or the head. Pruned generations are not readable.
    func resolve(_ number: UInt64?) async throws -> Generation {
        let generation: Generation
        if let number {
            generation = try await self.generation(number)
        } else {
            guard let head = try await head() else { throw StoreError(.notFound, "volume \(name) has no generations yet") }
            generation = head
        }
        if generation.pruned == true { throw StoreError(.notFound, "generation \(generation.generation) of \(name) was removed by retention") }
        return generation
    }
}
