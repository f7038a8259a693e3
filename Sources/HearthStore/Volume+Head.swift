import Foundation

/// The highest generation ever published in a volume, sealed with its data key and only ever
/// replaced by a higher one (compare-and-swap).
///
/// Generations are never deleted (retention leaves a tombstone), so the newest listed generation
/// is the head. Someone who can write the bucket but holds no key could once delete the newest
/// generations and roll the volume back unnoticed; the anchor makes that a named error. It cannot
/// be forged (sealed, bound to the volume's name) and is written after each publish, so it lags the
/// head by at most the publish in flight, never leads it.
struct HeadAnchor: Codable, Equatable {
    var volume: String
    var generation: UInt64
    var epoch: UInt64

    static func context(volume: String) -> String { "hearth-head:\(volume)" }
}

extension StoreLayout {
    static func head(_ name: String) -> String { "volumes/\(name)/head" }
}

extension Volume {
    /// The anchored head and its etag, or nil for a volume written before anchors existed.
    func anchor() async throws -> (anchor: HeadAnchor, etag: String)? {
        let object: StoredObject
        do { object = try await store.get(StoreLayout.head(name)) } catch let error as StoreError where error.code == .notFound { return nil }
        let plain = try key.open(object.bytes, context: HeadAnchor.context(volume: name))
        guard let anchor = try? JSONDecoder().decode(HeadAnchor.self, from: Data(plain)), anchor.volume == name else {
            throw StoreError(.damaged, "the head anchor of volume \(name) does not decode")
        }
        return (anchor, object.etag)
    }

    /// Raises the anchor to `generation` unless it is already there or higher. Concurrent raisers
    /// (a stale writer, a fork) retry on conflict; the highest always wins.
    func raiseAnchor(to generation: UInt64, epoch: UInt64) async throws {
        for _ in 0..<16 {
            let current = try await anchor()
            if let current, current.anchor.generation >= generation { return }
            let sealed = try key.seal(Array(try JSONEncoder().encode(HeadAnchor(volume: name, generation: generation, epoch: epoch))),
                                      context: HeadAnchor.context(volume: name))
            do {
                try await store.put(StoreLayout.head(name), sealed, condition: current.map { WriteCondition.ifMatch($0.etag) } ?? WriteCondition.ifAbsent)
                return
            } catch let error as StoreError where error.code == .conflict {
                continue
            }
        }
        throw StoreError(.conflict, "the head anchor of volume \(name) kept changing")
    }

    /// Every generation number present, ascending, after checking that none above the anchored head
    /// was deleted: a listing that stops below the anchor is a rollback of the store, and is refused.
    public func checkedGenerationNumbers() async throws -> [UInt64] {
        let numbers = try await generationNumbers()
        if let anchored = try await anchor()?.anchor, (numbers.last ?? 0) < anchored.generation {
            throw Self.rolledBack(name, listed: numbers.last ?? 0, anchored: anchored.generation)
        }
        return numbers
    }

    static func rolledBack(_ name: String, listed: UInt64, anchored: UInt64) -> StoreError {
        StoreError(.damaged,
                   "volume \(name) lists generations only up to \(listed), but generation \(anchored) was published: the newest generations were deleted from the store",
                   detail: "head anchor \(anchored) > listed \(listed)")
    }
}
