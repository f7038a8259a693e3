import Foundation

extension Volume {
    /// A new volume whose first generation is generation `number` of this one. It joins this volume's
    /// family (same data key, same packs), so nothing is copied; each has its own lease and history.
    public func fork(generation number: UInt64?, to newName: String, kek: KeyEncryptionKey) async throws -> Volume {
        try StoreLayout.validate(volume: newName)
        let source = try await resolve(number)
        let origin = WrappedKeyFile.ForkOrigin(volume: name, generation: source.generation)
        let file = try WrappedKeyFile.wrap(key, family: family, kek: kek, forkedFrom: origin)
        do {
            try await store.put(StoreLayout.keyFile(newName), Self.encodeKeyFile(file), condition: .ifAbsent)
        } catch let error as StoreError where error.code == .conflict {
            throw StoreError(.conflict, "volume \(newName) already exists")
        }
        let fork = Volume(store: store, name: newName, family: family, key: key, keyFile: file)
        let first = Generation(volume: newName, generation: 1, parent: nil, epoch: 1, root: source.root, createdAt: Date(),
                               writer: defaultWriterIdentity(), reason: .fork, files: source.files, bytes: source.bytes, bytesNew: 0,
                               databases: source.databases, source: "\(name)@\(source.generation)", pruned: nil)
        try await store.put(StoreLayout.generation(newName, 1), try first.sealed(with: key), condition: .ifAbsent)
        try? await fork.raiseAnchor(to: 1, epoch: 1)
        return fork
    }
}
